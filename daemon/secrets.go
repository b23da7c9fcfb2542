package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/swarm"

	"github.com/corral-dev/corral/api"
	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/secret"
)

// Secrets is the engine's secret service: the /secrets calls of the Engine
// API, in the swarm shapes the docker CLI uses, over the secret store, and
// the checks the container service makes of a container's references.
// No answer carries a value (Spec.Data stays empty).
//
// Lock order: mu, then the secret store's and the container store's own.
type Secrets struct {
	store *secret.Store
	// users answers every container record.
	users func() []*ccontainer.Container

	// mu is held shared by a container create from the check of its
	// secrets until its record is stored, and exclusively by a removal,
	// so a secret cannot go between a create's check and its record.
	mu sync.RWMutex
}

// NewSecrets opens the secret store in dir; users answers the containers,
// whose references keep a secret from removal.
func NewSecrets(dir string, users func() []*ccontainer.Container) (*Secrets, error) {
	st, err := secret.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Secrets{store: st, users: users}, nil
}

// Secrets is the secret service.
func (d *Daemon) Secrets() *Secrets { return d.secrets }

// SecretCreate is POST /secrets/create.
func (s *Secrets) SecretCreate(_ context.Context, sp swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	if sp.Driver != nil || sp.Templating != nil {
		return swarm.SecretCreateResponse{}, errdefs.InvalidArgument(errors.New("secret drivers and templating are not supported"))
	}
	sec, err := s.store.Create(sp.Name, sp.Labels, sp.Data)
	if err != nil {
		return swarm.SecretCreateResponse{}, err
	}
	return swarm.SecretCreateResponse{ID: sec.ID}, nil
}

// SecretInspect is GET /secrets/{id}: by ID, name or ID prefix.
func (s *Secrets) SecretInspect(_ context.Context, ref string) (swarm.Secret, error) {
	sec, err := s.store.Get(ref)
	if err != nil {
		return swarm.Secret{}, err
	}
	return secretView(sec), nil
}

// SecretList is GET /secrets, with the filters name and id (prefixes),
// names (exact) and label.
func (s *Secrets) SecretList(_ context.Context, f api.Filters) ([]swarm.Secret, error) {
	if err := f.Validate("name", "names", "id", "label"); err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	out := []swarm.Secret{}
	for _, sec := range s.store.List() {
		if prefixOf(f.Get("name"), sec.Name) && prefixOf(f.Get("id"), sec.ID) &&
			f.ExactMatch("names", sec.Name) && f.MatchLabels("label", sec.Labels) {
			out = append(out, secretView(sec))
		}
	}
	return out, nil
}

// prefixOf reports whether v starts with one of prefixes, or there are
// none.
func prefixOf(prefixes []string, v string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// SecretRemove is DELETE /secrets/{id}; a secret a container refers to is
// a conflict, as with swarm services. Creates of containers wait meanwhile
// (s.mu), so none can take the secret between the check and the removal.
func (s *Secrets) SecretRemove(_ context.Context, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.store.Get(ref)
	if err != nil {
		return err
	}
	all := s.store.List()
	var names []string
	for _, c := range s.users() {
		if refersTo(c, sec.ID, all) {
			names = append(names, strings.TrimPrefix(c.Name, "/"))
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		return errdefs.Conflict(fmt.Errorf("secret '%s' is in use by the following container: %s", sec.Name, strings.Join(names, ", ")))
	}
	return s.store.Remove(sec.ID, nil)
}

// refersTo reports whether one of c's references names the secret id
// among all.
func refersTo(c *ccontainer.Container, id string, all []secret.Secret) bool {
	if c.Config == nil {
		return false
	}
	refs, err := containerSecrets(c.Config.Labels)
	if err != nil {
		return false
	}
	for _, r := range refs {
		if sec, err := secret.Find(all, r.Name); err == nil && sec.ID == id {
			return true
		}
	}
	return false
}

// secretView is a secret as the API shows it: no value.
func secretView(sec secret.Secret) swarm.Secret {
	return swarm.Secret{ID: sec.ID,
		Meta: swarm.Meta{Version: swarm.Version{Index: 1}, CreatedAt: sec.CreatedAt, UpdatedAt: sec.UpdatedAt},
		Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: sec.Name, Labels: sec.Labels}}}
}

// containerSecrets are the references the label io.corral.secrets holds.
func containerSecrets(labels map[string]string) ([]api.SecretReference, error) {
	v, ok := labels[api.LabelSecrets]
	if !ok {
		return nil, nil
	}
	return api.ParseSecretsLabel(v)
}

// check is the create-time check of a container's secrets. Only the
// request's own label counts: an image's label io.corral.secrets is
// dropped from cfg, so an image cannot ask for the user's secrets. Every
// secret must exist (a 400, not a 404: docker run pulls the image on a
// 404). On success the caller holds s.mu shared until release, which it
// calls once the record is stored.
func (s *Secrets) check(req, cfg map[string]string) (release func(), err error) {
	v, ok := req[api.LabelSecrets]
	if !ok {
		delete(cfg, api.LabelSecrets)
		return func() {}, nil
	}
	refs, err := api.ParseSecretsLabel(v)
	if err != nil {
		return nil, errdefs.InvalidArgument(err)
	}
	if len(refs) > 0 && s == nil {
		return nil, errdefs.InvalidArgument(errors.New("this engine has no secret store"))
	}
	if s == nil {
		return func() {}, nil
	}
	s.mu.RLock()
	for _, r := range refs {
		if _, err := s.store.Get(r.Name); err != nil {
			s.mu.RUnlock()
			return nil, missingSecret(r.Name, err)
		}
	}
	return s.mu.RUnlock, nil
}

// missingSecret is the error of a reference to a secret that does not
// exist, invalid input of the container's.
func missingSecret(name string, err error) error {
	if errdefs.IsNotFound(err) {
		return errdefs.InvalidArgument(fmt.Errorf("secret not found: %s", name))
	}
	return err
}

// containerRecords answers every container record (none before the
// container service is open).
func (d *Daemon) containerRecords() []*ccontainer.Container {
	if d.ctrs == nil {
		return nil
	}
	return d.ctrs.store.All()
}
