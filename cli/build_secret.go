package cli

import (
	"fmt"
	"os"
	"strings"
)

// parseSecrets reads the --secret values: id=X with src=FILE (default:
// the file named X), or env=VAR; type=file or type=env as docker buildx
// writes them.
func (o *buildOptions) parseSecrets() error {
	for _, spec := range o.secrets {
		id, val, err := readSecret(spec)
		if err != nil {
			return fmt.Errorf("invalid --secret %q: %w", spec, err)
		}
		if o.Secrets == nil {
			o.Secrets = map[string][]byte{}
		}
		o.Secrets[id] = val
	}
	return nil
}

func readSecret(spec string) (string, []byte, error) {
	var id, src, env, typ string
	for _, f := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return "", nil, fmt.Errorf("option %q is not key=value", f)
		}
		switch strings.ToLower(k) {
		case "id":
			id = v
		case "src", "source":
			src = v
		case "env":
			env = v
		case "type":
			typ = v
		default:
			return "", nil, fmt.Errorf("unknown option %q", k)
		}
	}
	if id == "" {
		return "", nil, fmt.Errorf("option id is required")
	}
	if typ != "" && typ != "file" && typ != "env" {
		return "", nil, fmt.Errorf("option type %q: want file or env", typ)
	}
	if env != "" || typ == "env" {
		if env == "" {
			env = id
		}
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", nil, fmt.Errorf("environment variable %s is not set", env)
		}
		return id, []byte(v), nil
	}
	if src == "" {
		src = id
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", nil, fmt.Errorf("read secret: %w", err)
	}
	return id, b, nil
}

// sourceDateEpoch passes SOURCE_DATE_EPOCH of the environment as a build
// arg, as docker buildx does, unless --build-arg sets it.
func sourceDateEpoch(args map[string]*string) {
	if _, set := args["SOURCE_DATE_EPOCH"]; set {
		return
	}
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && v != "" {
		args["SOURCE_DATE_EPOCH"] = &v
	}
}
