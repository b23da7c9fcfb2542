package daemon

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	if c, err := LoadConfig(filepath.Join(dir, "absent.json")); err != nil || !reflect.DeepEqual(c, Config{}) {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"data-root": "/srv/corral", "insecure-registries": ["reg.lan:5000", "10.0.0.0/8"]}`), 0o644)
	c, err := LoadConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{DataRoot: "/srv/corral", InsecureRegistries: []string{"reg.lan:5000", "10.0.0.0/8"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"insecure-registry": ["x"]}`), 0o644)
	_, err = LoadConfig(bad)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "insecure-registry") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestConfigWithEnv(t *testing.T) {
	env := map[string]string{"CORRAL_ROOT": "/tmp/r", "CORRAL_INSECURE_REGISTRIES": " a:1 ,,b "}
	c := Config{DataRoot: "/x", InsecureRegistries: []string{"c"}}.WithEnv(func(k string) string { return env[k] })
	want := Config{DataRoot: "/tmp/r", InsecureRegistries: []string{"c", "a:1", "b"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}
