package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestFiltersJSON(t *testing.T) {
	f := NewFilters("dangling", "true", "label", "a=b", "label", "c")
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"dangling":{"true":true},"label":{"a=b":true,"c":true}}`; string(b) != want {
		t.Fatalf("marshal = %s, want %s", b, want)
	}
	for _, in := range []string{string(b), `{"dangling":["true"],"label":["c","a=b"]}`} {
		var g Filters
		if err := json.Unmarshal([]byte(in), &g); err != nil {
			t.Fatalf("unmarshal %s: %v", in, err)
		}
		if !reflect.DeepEqual(g.Get("label"), []string{"a=b", "c"}) || !g.Contains("dangling") || g.Len() != 2 {
			t.Errorf("unmarshal %s = %v", in, g.m)
		}
	}
	var empty Filters
	if b, _ := json.Marshal(empty); string(b) != "{}" {
		t.Errorf("empty = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"a":1}`), &empty); err == nil {
		t.Error("bad filters accepted")
	}
}

func TestFiltersValidateClone(t *testing.T) {
	f := NewFilters("dangling", "true", "bogus", "x")
	if err := f.Validate("dangling", "label"); err == nil || err.Error() != "invalid filter 'bogus'" {
		t.Errorf("Validate = %v", err)
	}
	c := f.Clone()
	c.Add("label", "x")
	c.Del("bogus")
	if f.Contains("label") || !f.Contains("bogus") {
		t.Error("Clone shares state")
	}
	if !reflect.DeepEqual(c.Keys(), []string{"dangling", "label"}) {
		t.Errorf("Keys = %v", c.Keys())
	}
}

func TestFiltersMatch(t *testing.T) {
	var f Filters
	if err := json.Unmarshal([]byte(`{"label":["project=demo","oneoff"],"name":["^/web"],"id":["abc"]}`), &f); err != nil {
		t.Fatal(err)
	}
	if !f.Include("label") || f.Include("status") {
		t.Error("Include")
	}
	labels := map[string]string{"project": "demo", "oneoff": "False", "x": "y"}
	if !f.MatchLabels("label", labels) {
		t.Error("MatchLabels: labels that have everything must match")
	}
	if f.MatchLabels("label", map[string]string{"project": "other", "oneoff": "x"}) ||
		f.MatchLabels("label", map[string]string{"project": "demo"}) {
		t.Error("MatchLabels: a wrong value or a missing key must not match")
	}
	if !f.MatchLabels("nolabel", nil) || !f.ExactMatch("status", "running") {
		t.Error("an unconstrained key matches")
	}
	if !f.Match("name", "/web1") || f.Match("name", "/db") || !f.Match("name", "^/web") {
		t.Error("Match: regular expression")
	}
	if !f.FuzzyMatch("id", "abcdef") || f.FuzzyMatch("id", "xabc") || f.ExactMatch("id", "abcdef") || !f.ExactMatch("id", "abc") {
		t.Error("FuzzyMatch/ExactMatch")
	}
	var empty Filters
	if !empty.MatchLabels("label", nil) || !empty.ExactMatch("id", "x") || empty.Include("id") {
		t.Error("empty filters match everything")
	}
}
