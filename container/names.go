package container

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"

	"github.com/corral-dev/corral/errdefs"
)

// nameChars is dockerd's description of a valid name, quoted in its error.
const nameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// namePattern is dockerd's rule: a first character from the first class,
// then one or more from the second, so one-character names are refused.
var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + nameChars + `+$`) })

// ValidateName checks a name given by the user ("web" or "/web") and returns
// it with its leading "/", as records keep it. The error is dockerd's,
// class InvalidArgument, and quotes the name as given.
func ValidateName(name string) (string, error) {
	if !namePattern().MatchString(strings.TrimPrefix(name, "/")) {
		//lint:ignore ST1005 dockerd's wording.
		return "", errdefs.InvalidArgument(fmt.Errorf("Invalid container name (%s), only %s are allowed", name, nameChars))
	}
	if name[0] != '/' {
		name = "/" + name
	}
	return name, nil
}

// RandomName returns a name like dockerd's generated ones,
// adjective_surname, with a random digit appended when retry > 0 (a retry
// after the plain name was taken).
func RandomName(retry int) string {
	name := adjectives[rand.IntN(len(adjectives))] + "_" + surnames[rand.IntN(len(surnames))]
	if retry > 0 {
		name += fmt.Sprint(rand.IntN(10))
	}
	return name
}

// adjectives and surnames make generated names. The surnames are of people
// who shaped computing and mathematics.
var adjectives = []string{
	"agile", "amber", "ardent", "bold", "brave", "breezy", "bright", "calm",
	"candid", "cheerful", "civic", "clever", "cosmic", "crisp", "daring",
	"deft", "eager", "earnest", "fearless", "fluent", "frosty", "gentle",
	"gifted", "glad", "graceful", "hardy", "honest", "humble", "jolly",
	"keen", "kind", "lively", "loyal", "lucid", "mellow", "merry", "modest",
	"nimble", "noble", "patient", "plucky", "polite", "proud", "quick",
	"quiet", "rapid", "serene", "sharp", "snappy", "steady", "sunny",
	"swift", "tidy", "upbeat", "vivid", "witty", "zesty",
}

var surnames = []string{
	"babbage", "backus", "bernoulli", "boole", "cantor", "cerf", "church",
	"codd", "conway", "dijkstra", "euler", "fermat", "gauss", "godel",
	"hamming", "hilbert", "hoare", "hopper", "huffman", "kahan", "karp",
	"kay", "knuth", "kolmogorov", "lamport", "liskov", "lovelace", "mccarthy",
	"milner", "naur", "neumann", "noether", "pascal", "perlis", "postel",
	"ramanujan", "riemann", "ritchie", "shannon", "stroustrup", "tarjan",
	"thompson", "turing", "wirth", "yao", "zuse",
}
