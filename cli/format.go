package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// Format keys of --format, as docker's.
const (
	tableFormat = "table"
	rawFormat   = "raw"
	jsonFormat  = "json"
	quietFormat = "{{.ID}}"
)

// templateFuncs are the functions docker offers in --format templates.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(buf.String()), nil
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      pad,
	"truncate": truncate,
}

// headerFuncs replace templateFuncs when a table's header row is rendered
// from the column names, so that the names come out unchanged.
var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v, _ string) string { return v },
	"join":     func(v, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

// title upper-cases the first letter of each word (ASCII, as docker's).
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		up := unicode.IsSpace(prev)
		prev = r
		if up {
			return unicode.ToUpper(r)
		}
		return r
	}, s)
}

func pad(s string, prefix, suffix int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
}

func truncate(s string, n int) string {
	if len(s) < n {
		return s
	}
	return s[:n]
}

// parseTemplate parses a --format template with docker's functions.
func parseTemplate(format string) (*template.Template, error) {
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

// listFormat renders rows of a list command (images, history, system df)
// with a --format value: "table [TEMPLATE]" writes aligned columns under a
// header row made from header (column names by field), "json" one JSON
// object per row, anything else the template per row.
type listFormat struct {
	format string
	// header is what the header row is rendered from: a map of the
	// fields' titles, or a value whose methods give them.
	header any
}

func (f listFormat) isTable() bool { return strings.HasPrefix(f.format, tableFormat) }

// template returns the template text of the format.
func (f listFormat) template() string {
	s := f.format
	switch {
	case f.isTable():
		s = s[len(tableFormat):]
	case s == jsonFormat:
		s = "{{json .}}"
	}
	s = strings.Trim(s, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(s)
}

// write renders rows to out.
func (f listFormat) write(out io.Writer, rows []any) error {
	tmpl, err := parseTemplate(f.template())
	if err != nil {
		return err
	}
	var body bytes.Buffer
	for _, row := range rows {
		if err := tmpl.Execute(&body, row); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		body.WriteByte('\n')
	}
	if !f.isTable() {
		_, err := body.WriteTo(out)
		return err
	}
	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	var head bytes.Buffer
	// The header row cannot fail in a way the rows did not: ignore its
	// error as docker does.
	_ = tmpl.Funcs(headerFuncs).Execute(&head, f.header)
	head.WriteByte('\n')
	if _, err := head.WriteTo(tw); err != nil {
		return err
	}
	if _, err := body.WriteTo(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// marshalMethods renders a row as docker's formatters do for {{json .}}: a
// JSON object of the results of the row's exported methods that take no
// argument and return one value.
func marshalMethods(row any) ([]byte, error) {
	v := reflect.ValueOf(row)
	t := v.Type()
	m := map[string]any{}
	for i := 0; i < v.NumMethod(); i++ {
		meth := t.Method(i)
		fn := v.Method(i)
		if !meth.IsExported() || fn.Type().NumIn() != 0 || fn.Type().NumOut() != 1 {
			continue
		}
		m[meth.Name] = fn.Call(nil)[0].Interface()
	}
	return json.Marshal(m)
}

// ellipsis shortens s to n characters, the last being "…".
func ellipsis(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if n == 1 {
		return string(r[0])
	}
	return string(r[:n-1]) + "…"
}

// truncateID is the 12 hex digits docker shows of an ID.
func truncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}
