package api

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Filters are the filters= query parameter of list and prune calls: for each
// key, a set of values. On the wire it is {"key":{"value":true}}; the older
// form {"key":["value"]} is read too. The zero value is an empty set.
type Filters struct {
	m map[string]map[string]bool
}

// NewFilters returns filters holding the key=value pairs given as pairs of
// strings: NewFilters("dangling", "true").
func NewFilters(kv ...string) Filters {
	var f Filters
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// Add adds value to key's set.
func (f *Filters) Add(key, value string) {
	if f.m == nil {
		f.m = map[string]map[string]bool{}
	}
	if f.m[key] == nil {
		f.m[key] = map[string]bool{}
	}
	f.m[key][value] = true
}

// Del removes key entirely.
func (f *Filters) Del(key string) { delete(f.m, key) }

// Len is the number of keys.
func (f Filters) Len() int { return len(f.m) }

// Contains reports whether key has any value.
func (f Filters) Contains(key string) bool { return len(f.m[key]) > 0 }

// Get returns key's values, sorted.
func (f Filters) Get(key string) []string {
	vals := make([]string, 0, len(f.m[key]))
	for v := range f.m[key] {
		vals = append(vals, v)
	}
	sort.Strings(vals)
	return vals
}

// Keys returns the keys, sorted.
func (f Filters) Keys() []string {
	keys := make([]string, 0, len(f.m))
	for k := range f.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Clone returns a copy that Add does not share with f.
func (f Filters) Clone() Filters {
	var c Filters
	for k, vs := range f.m {
		for v := range vs {
			c.Add(k, v)
		}
	}
	return c
}

// Validate fails on a key that accepted does not list, with dockerd's
// message.
func (f Filters) Validate(accepted ...string) error {
	ok := map[string]bool{}
	for _, a := range accepted {
		ok[a] = true
	}
	for _, k := range f.Keys() {
		if !ok[k] {
			return fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return nil
}

// MarshalJSON writes {"key":{"value":true}}.
func (f Filters) MarshalJSON() ([]byte, error) {
	if f.m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(f.m)
}

// UnmarshalJSON reads both wire forms.
func (f *Filters) UnmarshalJSON(data []byte) error {
	var sets map[string]map[string]bool
	if err := json.Unmarshal(data, &sets); err == nil {
		f.m = nil
		for k, vs := range sets {
			for v := range vs {
				f.Add(k, v)
			}
		}
		return nil
	}
	var lists map[string][]string
	if err := json.Unmarshal(data, &lists); err != nil {
		return fmt.Errorf("invalid filter: %w", err)
	}
	f.m = nil
	for k, vs := range lists {
		for _, v := range vs {
			f.Add(k, v)
		}
	}
	return nil
}

// Matching, as dockerd's filters.Args does it.

// Include reports whether the filters constrain key.
func (f Filters) Include(key string) bool { return f.Contains(key) }

// ExactMatch reports whether value is one of key's values, or key is not
// constrained.
func (f Filters) ExactMatch(key, value string) bool {
	vals := f.m[key]
	return len(vals) == 0 || vals[value]
}

// Match is ExactMatch, or else one of key's values, read as a regular
// expression, matches value (dockerd's name filter: "web" matches "/web1").
func (f Filters) Match(key, value string) bool {
	if f.ExactMatch(key, value) {
		return true
	}
	for v := range f.m[key] {
		re, err := regexp.Compile(v)
		if err == nil && re.MatchString(value) {
			return true
		}
	}
	return false
}

// FuzzyMatch is ExactMatch, or else value starts with one of key's values
// (IDs given as a prefix).
func (f Filters) FuzzyMatch(key, value string) bool {
	if f.ExactMatch(key, value) {
		return true
	}
	for v := range f.m[key] {
		if strings.HasPrefix(value, v) {
			return true
		}
	}
	return false
}

// MatchLabels reports whether labels has every one of key's values: "k"
// (the label is set) or "k=v" (set to v). An unconstrained key matches.
func (f Filters) MatchLabels(key string, labels map[string]string) bool {
	for want := range f.m[key] {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}
