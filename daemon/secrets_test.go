package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
)

func newTestSecrets(t *testing.T, users ...*ccontainer.Container) *Secrets {
	t.Helper()
	s, err := NewSecrets(t.TempDir(), func() []*ccontainer.Container { return users })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func createSecret(t *testing.T, s *Secrets, name string, labels map[string]string) string {
	t.Helper()
	resp, err := s.SecretCreate(context.Background(), swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: []byte("value-of-" + name)})
	if err != nil {
		t.Fatal(err)
	}
	return resp.ID
}

func TestSecretsListFilters(t *testing.T) {
	ctx := context.Background()
	s := newTestSecrets(t)
	idA := createSecret(t, s, "app-db", map[string]string{"env": "prod"})
	createSecret(t, s, "app-tls", map[string]string{"env": "dev"})
	createSecret(t, s, "other", nil)
	for _, tc := range []struct {
		filters api.Filters
		want    string
	}{
		{api.Filters{}, "app-db app-tls other"},
		{api.NewFilters("name", "app"), "app-db app-tls"},
		{api.NewFilters("names", "app"), ""},
		{api.NewFilters("id", idA[:8]), "app-db"},
		{api.NewFilters("label", "env=prod"), "app-db"},
		{api.NewFilters("label", "env"), "app-db app-tls"},
	} {
		list, err := s.SecretList(ctx, tc.filters)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, sec := range list {
			if sec.Spec.Data != nil {
				t.Errorf("list answers a value")
			}
			names = append(names, sec.Spec.Name)
		}
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("filters %v: %q, want %q", tc.filters, got, tc.want)
		}
	}
	if _, err := s.SecretList(ctx, api.NewFilters("driver", "x")); !errdefs.IsInvalidArgument(err) {
		t.Errorf("unknown filter: %v", err)
	}
	if _, err := s.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: "d"}, Data: []byte("x"),
		Driver: &swarm.Driver{Name: "vault"}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("a driver: %v", err)
	}
}

func withSecrets(name, label string) *ccontainer.Container {
	return &ccontainer.Container{ID: strings.Repeat("c", 64), Name: "/" + name,
		Config: &container.Config{Labels: map[string]string{api.LabelSecrets: label}}}
}

func TestSecretsRemoveInUse(t *testing.T) {
	ctx := context.Background()
	s := newTestSecrets(t, withSecrets("web", `[{"name":"used"}]`), withSecrets("db", `[{"name":"used","type":"env"}]`))
	createSecret(t, s, "used", nil)
	idFree := createSecret(t, s, "free", nil)
	err := s.SecretRemove(ctx, "used")
	if !errdefs.IsConflict(err) || err.Error() != "secret 'used' is in use by the following container: db, web" {
		t.Errorf("remove in use: %v", err)
	}
	if err := s.SecretRemove(ctx, idFree); err != nil {
		t.Errorf("remove free: %v", err)
	}
	if _, err := s.SecretInspect(ctx, "free"); !errdefs.IsNotFound(err) {
		t.Errorf("inspect removed: %v", err)
	}
}

// TestSecretsCheck: the create-time check takes only the request's label
// (an image's is dropped), and a missing secret is a 400 naming it.
func TestSecretsCheck(t *testing.T) {
	s := newTestSecrets(t)
	createSecret(t, s, "mine", nil)
	merged := map[string]string{api.LabelSecrets: `[{"name":"mine"}]`, "other": "x"}
	release, err := s.check(map[string]string{"other": "x"}, merged)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, ok := merged[api.LabelSecrets]; ok || merged["other"] != "x" {
		t.Errorf("an image's label kept: %v", merged)
	}
	req := map[string]string{api.LabelSecrets: `[{"name":"mine"},{"name":"gone"}]`}
	if _, err := s.check(req, req); !errdefs.IsInvalidArgument(err) || err.Error() != "secret not found: gone" {
		t.Errorf("missing secret: %v", err)
	}
	req = map[string]string{api.LabelSecrets: `[{"name":"mine"}]`}
	release, err = s.check(req, req)
	if err != nil {
		t.Fatal(err)
	}
	release()
	// No store: a reference is refused, none is fine.
	var none *Secrets
	if _, err := none.check(req, req); !errdefs.IsInvalidArgument(err) {
		t.Errorf("no store: %v", err)
	}
	if release, err := none.check(nil, nil); err != nil {
		t.Errorf("no store, no secrets: %v", err)
	} else {
		release()
	}
}

func TestSetSecretEnv(t *testing.T) {
	r := api.SecretReference{Name: "s", Type: api.SecretEnv, Target: "PASS"}
	env, err := setSecretEnv([]string{"PATH=/bin", "PASS=plain"}, r, []byte("v"))
	if err != nil || strings.Join(env, " ") != "PATH=/bin PASS=v" {
		t.Errorf("replace: %q %v", env, err)
	}
	env, err = setSecretEnv([]string{"PATH=/bin"}, r, []byte("v"))
	if err != nil || strings.Join(env, " ") != "PATH=/bin PASS=v" {
		t.Errorf("append: %q %v", env, err)
	}
	if _, err := setSecretEnv(nil, r, []byte("a\x00b")); !errdefs.IsInvalidArgument(err) || strings.Contains(err.Error(), "a\x00b") {
		t.Errorf("NUL: %v", err)
	}
}

// TestSecretsRemoveByPrefixName: a reference by a name that is also a
// prefix of another secret's ID keeps only the named secret.
func TestSecretsRemoveByPrefixName(t *testing.T) {
	ctx := context.Background()
	s := newTestSecrets(t)
	other := createSecret(t, s, "other", nil)
	named := other[:4]
	createSecret(t, s, named, nil)
	s.users = func() []*ccontainer.Container {
		return []*ccontainer.Container{withSecrets("web", `[{"name":"`+named+`"}]`)}
	}
	if err := s.SecretRemove(ctx, other); err != nil {
		t.Errorf("remove of a secret the container does not use: %v", err)
	}
	if err := s.SecretRemove(ctx, named); !errdefs.IsConflict(err) {
		t.Errorf("remove of the used one: %v", err)
	}
}
