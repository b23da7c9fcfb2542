package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// LabelSecrets is the container label that carries a container's --secret
// references to the engine (Docker's create API has no field for them): a
// JSON list of SecretReference. It names secrets, never holds their
// values. The real docker CLI can set it with --label.
const LabelSecrets = "io.corral.secrets"

// SecretsDir is where file secrets go when their target is relative.
const SecretsDir = "/run/secrets"

// Secret reference types.
const (
	SecretFile = "file"
	SecretEnv  = "env"
)

// SecretReference is one --secret of a container: which secret, and where
// the container gets it.
type SecretReference struct {
	// Name is the secret's name (or ID) in the engine's store.
	Name string `json:"name"`
	// Type is SecretFile ("" too) or SecretEnv.
	Type string `json:"type,omitempty"`
	// Target is, for a file, its path in the container (absolute, or
	// relative to SecretsDir; "" means Name); for env, the variable's
	// name ("" means Name).
	Target string `json:"target,omitempty"`
	// UID and GID own the file (0 by default).
	UID uint32 `json:"uid,omitempty"`
	GID uint32 `json:"gid,omitempty"`
	// Mode is the file's permission bits in octal ("0400"); "" means
	// "0444", as docker's.
	Mode string `json:"mode,omitempty"`
}

// Normalize checks r and fills in its defaults: Type, an absolute clean
// Target, Mode.
func (r SecretReference) Normalize() (SecretReference, error) {
	if r.Name == "" || strings.ContainsAny(r.Name, "/\x00") {
		return r, fmt.Errorf("invalid secret reference: bad secret name %q", r.Name)
	}
	if r.Target == "" {
		r.Target = r.Name
	}
	switch r.Type {
	case "", SecretFile:
		r.Type = SecretFile
		return r.normalizeFile()
	case SecretEnv:
		if strings.ContainsAny(r.Target, "=\x00") {
			return r, fmt.Errorf("invalid secret %s: %q is not an environment variable name", r.Name, r.Target)
		}
		if r.UID != 0 || r.GID != 0 || r.Mode != "" {
			return r, fmt.Errorf("invalid secret %s: uid, gid and mode apply to file secrets only", r.Name)
		}
		return r, nil
	}
	return r, fmt.Errorf("invalid secret %s: unknown type %q (file or env)", r.Name, r.Type)
}

func (r SecretReference) normalizeFile() (SecretReference, error) {
	t := r.Target
	if strings.ContainsRune(t, 0) {
		return r, fmt.Errorf("invalid secret %s: bad target %q", r.Name, t)
	}
	if !path.IsAbs(t) {
		t = path.Join(SecretsDir, t)
		if !strings.HasPrefix(t, SecretsDir+"/") {
			return r, fmt.Errorf("invalid secret %s: relative target %q leaves %s", r.Name, r.Target, SecretsDir)
		}
	}
	t = path.Clean(t)
	if t == "/" {
		return r, fmt.Errorf("invalid secret %s: target cannot be /", r.Name)
	}
	r.Target = t
	if r.Mode == "" {
		r.Mode = "0444"
	}
	m, err := strconv.ParseUint(r.Mode, 8, 32)
	if err != nil || m > 0o777 {
		return r, fmt.Errorf("invalid secret %s: mode %q: want octal permission bits (0000 to 0777)", r.Name, r.Mode)
	}
	r.Mode = fmt.Sprintf("%04o", m)
	return r, nil
}

// FileMode is the normalized reference's file mode.
func (r SecretReference) FileMode() os.FileMode {
	m, _ := strconv.ParseUint(r.Mode, 8, 32)
	return os.FileMode(m) & os.ModePerm
}

// ParseSecretsLabel reads the value of LabelSecrets: the references,
// normalized, no two with the same target.
func ParseSecretsLabel(v string) ([]SecretReference, error) {
	var refs []SecretReference
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&refs); err != nil {
		return nil, fmt.Errorf("invalid label %s: want a JSON list of secret references: %w", LabelSecrets, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid label %s: data after the list", LabelSecrets)
	}
	return NormalizeSecrets(refs)
}

// NormalizeSecrets normalizes every reference and refuses two that give
// the same file or variable.
func NormalizeSecrets(refs []SecretReference) ([]SecretReference, error) {
	out := make([]SecretReference, 0, len(refs))
	seen := map[string]bool{}
	for _, r := range refs {
		n, err := r.Normalize()
		if err != nil {
			return nil, err
		}
		key := n.Type + ":" + n.Target
		if seen[key] {
			return nil, fmt.Errorf("invalid secrets: two secrets have the %s target %s", n.Type, n.Target)
		}
		seen[key] = true
		out = append(out, n)
	}
	return out, nil
}

// SecretsLabel is the value of LabelSecrets for refs ("" for none).
func SecretsLabel(refs []SecretReference) (string, error) {
	if len(refs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(refs)
	if err != nil {
		return "", errors.New("encode secret references: " + err.Error())
	}
	return string(b), nil
}
