package build

import (
	"strings"
	"testing"

	"github.com/corral-dev/corral/errdefs"
)

func TestParseErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"FROM busybox\nFROBNICATE x\n", "Dockerfile:2: unknown instruction: FROBNICATE"},
		{"FROM busybox\n\nENV\n", "Dockerfile:3: ENV requires at least one argument"},
		{"FROM busybox\nEXPOSE\n", "Dockerfile:2: EXPOSE requires at least one argument"},
		{"RUN true\n", "Dockerfile:1: no build stage in current context"},
		{"# just a comment\n", "Dockerfile:1: file with no instructions"},
		{"# escape=x\nFROM busybox\n", "invalid escape token"},
	} {
		_, err := Parse("Dockerfile", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errdefs.IsInvalidArgument(err) {
			t.Errorf("Parse(%q) = %v, want an invalid-argument error with %q", tc.src, err, tc.want)
		}
	}
}

func TestParseGrammar(t *testing.T) {
	src := "# escape=`\nARG B=busybox\nFROM $B AS one\nRUN echo a `\n  b\nCOPY <<EOF /f\nhello\nEOF\nFROM one\n"
	df, err := Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if df.Escape != '`' || len(df.MetaArgs) != 1 || len(df.Stages) != 2 || df.Stages[0].Name != "one" {
		t.Fatalf("parsed %+v", df)
	}
	if got := df.Stages[0].Commands[0].(interface{ String() string }).String(); !strings.Contains(got, "echo a") || !strings.Contains(got, "b") {
		t.Errorf("continuation: %q", got)
	}
}

func TestPlan(t *testing.T) {
	src := "FROM busybox AS a\nFROM busybox AS b\nCOPY --from=a /x /x\nFROM busybox AS unused\nFROM b AS c\nCOPY --from=0 /y /y\n"
	df, err := Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	base := func(i int) string { return df.Stages[i].BaseName }
	for target, want := range map[string]string{"": "[0 1 3]", "b": "[0 1]", "a": "[0]", "unused": "[2]"} {
		got, err := df.Plan(target, base)
		if err != nil || strings.Trim(strings.ReplaceAll(fmtInts(got), ",", ""), " ") != want {
			t.Errorf("Plan(%q) = %v, %v; want %s", target, got, err, want)
		}
	}
	if _, err := df.Plan("nope", base); err == nil || !strings.Contains(err.Error(), `target stage "nope" could not be found`) {
		t.Errorf("unknown target: %v", err)
	}
	cyc, _ := Parse("Dockerfile", []byte("FROM b AS a\nFROM a AS b\n"))
	if _, err := cyc.Plan("", func(i int) string { return cyc.Stages[i].BaseName }); err == nil ||
		!strings.Contains(err.Error(), "circular dependency") {
		t.Errorf("cycle: %v", err)
	}
	self, _ := Parse("Dockerfile", []byte("FROM busybox AS a\nCOPY --from=a /x /x\n"))
	if _, err := self.Plan("", func(i int) string { return self.Stages[i].BaseName }); err == nil {
		t.Error("a stage copying from itself was planned")
	}
}

func fmtInts(v []int) string {
	var b strings.Builder
	b.WriteString("[")
	for i, n := range v {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(string(rune('0' + n)))
	}
	b.WriteString("]")
	return b.String()
}
