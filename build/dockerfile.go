package build

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/corral-dev/corral/errdefs"
)

// Dockerfile is a parsed Dockerfile: its stages in order, the ARGs before
// the first FROM, and the escape token its directive chose.
type Dockerfile struct {
	Name     string
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	Escape   rune
}

// Parse parses the Dockerfile text src; name (the file's path in the
// context) prefixes the errors, with the line and column they point at.
func Parse(name string, src []byte) (*Dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, locate(name, err)
	}
	stages, meta, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, locate(name, err)
	}
	if len(stages) == 0 {
		return nil, errdefs.InvalidArgument(fmt.Errorf("%s: no FROM instruction: a Dockerfile must start with FROM (after ARGs)", name))
	}
	return &Dockerfile{Name: name, Stages: stages, MetaArgs: meta, Escape: res.EscapeToken}, nil
}

// locate prefixes err with name and the line (and column, when known) the
// parser's location error holds, as an invalid-argument error.
func locate(name string, err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		start := le.Locations[0][0].Start
		pos := fmt.Sprintf("%s:%d", name, start.Line)
		if start.Character > 0 {
			pos += fmt.Sprintf(":%d", start.Character)
		}
		return errdefs.InvalidArgument(fmt.Errorf("%s: %s", pos, strings.TrimSpace(le.Unwrap().Error())))
	}
	return errdefs.InvalidArgument(fmt.Errorf("%s: %w", name, err))
}

// at prefixes err with the file and line of cmd's location.
func at(name string, loc []parser.Range, err error) error {
	if len(loc) == 0 {
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s:%d: %w", name, loc[0].Start.Line, err)
}

// stageIndex answers the index of the stage named name (case-insensitive),
// or -1.
func (d *Dockerfile) stageIndex(name string) int {
	if i, ok := instructions.HasStage(d.Stages, name); ok {
		return i
	}
	return -1
}

// Plan answers the indexes of the stages the build of target ("" for the
// last stage) needs, in the order to build them (each after the stages it
// uses), and refuses unknown targets and cycles between stages. base names
// a stage's FROM after ARG expansion (stage references are names or
// indexes).
func (d *Dockerfile) Plan(target string, base func(i int) string) ([]int, error) {
	last := len(d.Stages) - 1
	if target != "" {
		if last = d.stageIndex(target); last < 0 {
			return nil, errdefs.InvalidArgument(fmt.Errorf("target stage %q could not be found", target))
		}
	}
	p := planner{d: d, base: base, state: map[int]int{}}
	if err := p.visit(last); err != nil {
		return nil, err
	}
	return p.order, nil
}

type planner struct {
	d     *Dockerfile
	base  func(int) string
	state map[int]int // 1 visiting, 2 done
	order []int
}

func (p *planner) visit(i int) error {
	switch p.state[i] {
	case 1:
		return errdefs.InvalidArgument(fmt.Errorf("%s: circular dependency detected on stage %s", p.d.Name, stageName(p.d.Stages[i], i)))
	case 2:
		return nil
	}
	p.state[i] = 1
	for _, dep := range p.deps(i) {
		if err := p.visit(dep); err != nil {
			return err
		}
	}
	p.state[i] = 2
	p.order = append(p.order, i)
	return nil
}

// deps are the stages stage i uses: its base, its COPY --from sources
// and its RUN --mount from= sources.
func (p *planner) deps(i int) []int { return p.d.deps(i, p.base) }

func (d *Dockerfile) deps(i int, base func(int) string) []int {
	var out []int
	refs := []string{base(i)}
	for _, c := range d.Stages[i].Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			refs = append(refs, c.From)
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(c) {
				refs = append(refs, m.From)
			}
		}
	}
	for _, r := range refs {
		if r == "" {
			continue
		}
		if j := d.stageRef(r); j >= 0 && !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	return out
}

// stageRef answers the stage ref names (a stage name or index), or -1 when
// it names an image.
func (d *Dockerfile) stageRef(ref string) int {
	if i := d.stageIndex(ref); i >= 0 {
		return i
	}
	var n int
	if _, err := fmt.Sscanf(ref, "%d", &n); err == nil && fmt.Sprint(n) == ref && n >= 0 && n < len(d.Stages) {
		return n
	}
	return -1
}

func stageName(s instructions.Stage, i int) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprint(i)
}
