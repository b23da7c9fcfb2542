package runtime

import (
	"encoding/json"
	"sync"

	"github.com/corral-dev/corral/runtime/nsinit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A runtime process started before its command is known (runcli's
// standby, which a spare monitor keeps for the next container's create)
// does here the work of create that depends on nothing in the command, so
// that it is off the create's path when the command comes.

var standby struct {
	mu   sync.Mutex
	seal *pendingSeal
}

// PrepareCreate readies this process for a create: it begins sealing its
// binary for init (the next create or run takes the sealed view) and
// builds encoding/json's codecs of the config types. The first decoding
// of a config otherwise costs about 0.6 ms of reflection over the spec's
// types on the create's path, measured in this VM; the decoder and the
// encoder share the field tables it builds.
func PrepareCreate() {
	standby.mu.Lock()
	if standby.seal == nil {
		standby.seal = sealAhead()
	}
	standby.mu.Unlock()
	warmCodecs()
}

// warmCodecs encodes zero values of the records create writes and sends:
// encoding/json builds an encoder for every type a value's type can reach,
// nil or not, with the field table decoding uses too.
func warmCodecs() {
	for _, v := range []any{&record{Spec: &specs.Spec{}}, &nsinit.Config{}, &specs.State{}} {
		_, _ = json.Marshal(v)
	}
}

// takeStandbySeal hands over the sealing PrepareCreate began, or nil.
func takeStandbySeal() *pendingSeal {
	standby.mu.Lock()
	defer standby.mu.Unlock()
	p := standby.seal
	standby.seal = nil
	return p
}
