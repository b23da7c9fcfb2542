package nsinit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dropped are the fields of specs.Spec and specs.Linux that init does not
// decode (wire.go).
var dropped = map[string][]string{
	"Spec":  {"Solaris", "Windows", "VM", "ZOS", "FreeBSD"},
	"Linux": {"Resources", "CgroupsPath", "NetDevices", "IntelRdt", "MemoryPolicy"},
}

// TestInitSpecFields: initSpec and initLinux have every field of
// specs.Spec and specs.Linux but the dropped ones, with the same type and
// JSON tag, and nothing else; so a field a newer runtime-spec adds reaches
// init unless it is dropped here on purpose.
func TestInitSpecFields(t *testing.T) {
	for _, pair := range []struct{ full, ours reflect.Type }{
		{reflect.TypeFor[specs.Spec](), reflect.TypeFor[initSpec]()},
		{reflect.TypeFor[specs.Linux](), reflect.TypeFor[initLinux]()},
	} {
		name := pair.full.Name()
		left := map[string]bool{}
		for _, f := range dropped[name] {
			left[f] = true
		}
		n := 0
		for i := 0; i < pair.full.NumField(); i++ {
			f := pair.full.Field(i)
			if left[f.Name] {
				continue
			}
			n++
			g, ok := pair.ours.FieldByName(f.Name)
			want := f.Type
			if f.Name == "Linux" {
				want = reflect.TypeFor[*initLinux]()
			}
			if !ok || g.Type != want || g.Tag.Get("json") != f.Tag.Get("json") {
				t.Errorf("%s.%s (%s `json:%q`): init's copy has %v", name, f.Name, f.Type, f.Tag.Get("json"), g)
			}
		}
		if pair.ours.NumField() != n {
			t.Errorf("init's %s has %d fields, want %d", name, pair.ours.NumField(), n)
		}
	}
}

// fill sets every field v reaches to a value that is not zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(7)
	}
}

// TestReadConfig: a config with every field set comes out of readConfig as
// it went in, but for the dropped fields.
func TestReadConfig(t *testing.T) {
	var in Config
	fill(reflect.ValueOf(&in).Elem())
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(&in); err != nil {
		t.Fatal(err)
	}
	got, err := readConfig(json.NewDecoder(&buf))
	if err != nil {
		t.Fatal(err)
	}
	want := in
	spec, linux := *in.Spec, *in.Spec.Linux
	spec.Solaris, spec.Windows, spec.VM, spec.ZOS, spec.FreeBSD = nil, nil, nil, nil, nil
	linux.Resources, linux.CgroupsPath, linux.NetDevices, linux.IntelRdt, linux.MemoryPolicy = nil, "", nil, nil, nil
	spec.Linux = &linux
	want.Spec = &spec
	if !reflect.DeepEqual(got, want) {
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		t.Errorf("readConfig:\n got %s\nwant %s", a, b)
	}
	if got, err := readConfig(json.NewDecoder(strings.NewReader(`{"mode":"exec"}`))); err != nil || got.Spec != nil || got.Mode != ModeExec {
		t.Errorf("without a spec: %+v, %v", got, err)
	}
}

// TestInitReadsNoDroppedField: no code of init names a field it does not
// decode; it would read it as zero.
func TestInitReadsNoDroppedField(t *testing.T) {
	var names []string
	for _, fs := range dropped {
		names = append(names, fs...)
	}
	use := regexp.MustCompile(`\.(` + strings.Join(names, "|") + `)\b`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if m := use.FindString(line); m != "" && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				t.Errorf("%s:%d uses %s, which init does not decode", f, i+1, m)
			}
		}
	}
}
