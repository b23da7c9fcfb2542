package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/corral-dev/corral/api"
)

// secretValue is run's and create's repeatable --secret: docker's syntax
// (source=NAME,target=PATH,uid=N,gid=N,mode=0400, or a bare NAME) with
// podman's type=env. The references travel to the engine as the label
// api.LabelSecrets; values never leave the engine.
type secretValue struct{ refs []api.SecretReference }

func (v *secretValue) String() string { return "" }
func (v *secretValue) Type() string   { return "secret" }

func (v *secretValue) Set(s string) error {
	r, err := parseSecretRef(s)
	if err != nil {
		return err
	}
	v.refs = append(v.refs, r)
	return nil
}

func addSecretFlags(fs *pflag.FlagSet, f *containerFlags) {
	fs.Var(&f.secrets, "secret", "Give the container a secret: NAME[,source=NAME][,target=PATH][,uid=N][,gid=N][,mode=0444]\n"+
		"(a file under /run/secrets, read-only) or NAME,type=env[,target=VAR] (an environment variable)")
}

// parseSecretRef reads one --secret value. A field without "=" is the
// secret's name, as is source= (or src=); the two may not disagree.
func parseSecretRef(s string) (api.SecretReference, error) {
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return api.SecretReference{}, fmt.Errorf("invalid secret %q: %w", s, err)
	}
	var r api.SecretReference
	for i, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		if !ok {
			if i != 0 || field == "" {
				return r, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
			r.Name = field
			continue
		}
		if err := setSecretField(&r, strings.ToLower(key), val); err != nil {
			return r, err
		}
	}
	if r.Name == "" {
		return r, errors.New("invalid secret: source is required")
	}
	return r.Normalize()
}

func setSecretField(r *api.SecretReference, key, val string) error {
	switch key {
	case "source", "src":
		if r.Name != "" && r.Name != val {
			return fmt.Errorf("invalid secret: two names, %q and %q", r.Name, val)
		}
		r.Name = val
	case "target":
		r.Target = val
	case "type":
		r.Type = val
	case "mode":
		r.Mode = val
	case "uid", "gid":
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid secret: %s %q: want a number", key, val)
		}
		if key == "uid" {
			r.UID = uint32(n)
		} else {
			r.GID = uint32(n)
		}
	default:
		return fmt.Errorf("invalid field in secret request: %s", key)
	}
	return nil
}

// label adds the references to labels, as api.LabelSecrets.
func (v *secretValue) label(labels map[string]string) (map[string]string, error) {
	if len(v.refs) == 0 {
		return labels, nil
	}
	if _, ok := labels[api.LabelSecrets]; ok {
		return nil, fmt.Errorf("--secret and a label %s cannot be given together", api.LabelSecrets)
	}
	refs, err := api.NormalizeSecrets(v.refs)
	if err != nil {
		return nil, err
	}
	s, err := api.SecretsLabel(refs)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[api.LabelSecrets] = s
	return out, nil
}
