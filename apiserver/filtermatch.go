package apiserver

import (
	"regexp"
	"strings"

	"github.com/corral-dev/corral/api"
)

// Matching of list filters, as dockerd's filters.Args does it. These work
// on api.Filters, which the request parser fills; the daemon needs them
// too, so they are meant to become methods of api.Filters (the daemon
// cannot import apiserver).

// Include reports whether the filters constrain key.
func Include(f api.Filters, key string) bool { return f.Contains(key) }

// ExactMatch reports whether value is one of key's values, or key is not
// constrained.
func ExactMatch(f api.Filters, key, value string) bool {
	vals := f.Get(key)
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		if v == value {
			return true
		}
	}
	return false
}

// Match is ExactMatch, or else one of key's values, read as a regular
// expression, matches value (dockerd's name filter: "web" matches "/web1").
func Match(f api.Filters, key, value string) bool {
	if ExactMatch(f, key, value) {
		return true
	}
	for _, v := range f.Get(key) {
		re, err := regexp.Compile(v)
		if err == nil && re.MatchString(value) {
			return true
		}
	}
	return false
}

// FuzzyMatch is ExactMatch, or else value starts with one of key's values
// (IDs given as a prefix).
func FuzzyMatch(f api.Filters, key, value string) bool {
	if ExactMatch(f, key, value) {
		return true
	}
	for _, v := range f.Get(key) {
		if strings.HasPrefix(value, v) {
			return true
		}
	}
	return false
}

// MatchLabels reports whether labels has every one of key's values: "k"
// (the label is set) or "k=v" (set to v). An unconstrained key matches.
func MatchLabels(f api.Filters, key string, labels map[string]string) bool {
	for _, want := range f.Get(key) {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}
