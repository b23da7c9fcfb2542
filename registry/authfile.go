package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/corral-dev/corral/errdefs"
)

// AuthFile holds registry credentials in docker's config.json format,
// {"auths": {"<host>": {"auth": base64("user:secret")}}}; other fields of
// the file are kept as they were. Docker Hub's entry is keyed
// "https://index.docker.io/v1/" as docker keys it. Save writes the file
// atomically with mode 0600. An AuthFile is safe for concurrent use.
type AuthFile struct {
	path string

	// mu guards the fields below.
	mu    sync.Mutex
	auths map[string]authEntry
	other map[string]json.RawMessage // top-level fields other than "auths"
}

type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// DefaultAuthFilePath is $XDG_CONFIG_HOME/corral/auth.json, by default
// $HOME/.config/corral/auth.json.
func DefaultAuthFilePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the auth file: %w", err)
	}
	return filepath.Join(dir, "corral", "auth.json"), nil
}

// LoadAuthFile reads the auth file at path; a missing file is an empty one
// (Save creates it).
func LoadAuthFile(path string) (*AuthFile, error) {
	f := &AuthFile{path: path, auths: map[string]authEntry{}, other: map[string]json.RawMessage{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read auth file: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(data, &f.other); err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("parse auth file %s: %w", path, err))
	}
	if raw, ok := f.other["auths"]; ok {
		if err := json.Unmarshal(raw, &f.auths); err != nil {
			return nil, errdefs.InvalidArgument(fmt.Errorf("parse auth file %s: auths: %w", path, err))
		}
		if f.auths == nil {
			f.auths = map[string]authEntry{}
		}
		delete(f.other, "auths")
	}
	return f, nil
}

// Path is the file's path.
func (f *AuthFile) Path() string { return f.path }

// AuthKey is the key of host's entry: DockerHubAuthKey for Docker Hub in
// any spelling, else the host itself.
func AuthKey(host string) string {
	if isDockerHub(normalizeAuthKey(host)) {
		return DockerHubAuthKey
	}
	return host
}

// normalizeAuthKey turns keys written as URLs ("https://host/v1/") into a
// host.
func normalizeAuthKey(key string) string {
	if i := strings.Index(key, "://"); i >= 0 {
		key = key[i+3:]
	}
	host, _, _ := strings.Cut(key, "/")
	return host
}

// Credentials returns host's user and secret, or "", "", nil when the file
// has none. It implements Credentials.
func (f *AuthFile) Credentials(host string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key, ok := f.lookup(host)
	if !ok {
		return "", "", nil
	}
	e := f.auths[key]
	if e.Auth == "" {
		return e.Username, e.Password, nil
	}
	raw, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return "", "", errdefs.InvalidArgument(fmt.Errorf("auth file %s: entry %s: %w", f.path, key, err))
	}
	user, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errdefs.InvalidArgument(fmt.Errorf("auth file %s: entry %s: no user:secret", f.path, key))
	}
	return user, secret, nil
}

// lookup finds host's entry: its exact key, else a key that names the same
// host as a URL. Called with f.mu held.
func (f *AuthFile) lookup(host string) (string, bool) {
	want := AuthKey(host)
	if _, ok := f.auths[want]; ok {
		return want, true
	}
	for _, key := range f.sortedKeys() {
		if AuthKey(normalizeAuthKey(key)) == want {
			return key, true
		}
	}
	return "", false
}

func (f *AuthFile) sortedKeys() []string {
	keys := make([]string, 0, len(f.auths))
	for k := range f.auths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Hosts lists the keys of the file's entries.
func (f *AuthFile) Hosts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sortedKeys()
}

// Set records host's credentials (in memory; Save writes them).
func (f *AuthFile) Set(host, user, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if key, ok := f.lookup(host); ok {
		delete(f.auths, key)
	}
	f.auths[AuthKey(host)] = authEntry{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))}
}

// Remove forgets host's credentials and reports whether it had any.
func (f *AuthFile) Remove(host string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	found := false
	for key, ok := f.lookup(host); ok; key, ok = f.lookup(host) {
		delete(f.auths, key)
		found = true
	}
	return found
}

// Save writes the file atomically (a temporary file in the same directory,
// synced, then renamed over it) with mode 0600, creating its directory
// with mode 0700 if needed.
func (f *AuthFile) Save() error {
	f.mu.Lock()
	doc := make(map[string]any, len(f.other)+1)
	for k, v := range f.other {
		doc[k] = v
	}
	doc["auths"] = f.auths
	data, err := json.MarshalIndent(doc, "", "\t")
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save auth file: %w", err)
	}
	if err := writeFileAtomic(f.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save auth file: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data: readers see the old file or the
// new one, never a part.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
