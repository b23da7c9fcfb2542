package api

import (
	"encoding/json"
	"fmt"
	"sort"
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
