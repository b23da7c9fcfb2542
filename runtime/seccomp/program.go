package seccomp

import (
	"cmp"
	"slices"
	"sort"

	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data (little-endian: the low half of a 64-bit
// argument comes first).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

func offArgLo(i uint) uint32 { return offArgs + 8*uint32(i) }
func offArgHi(i uint) uint32 { return offArgs + 8*uint32(i) + 4 }

// generator emits the filter for a checked config.
type generator struct {
	a     assembler
	cfg   *config
	known map[string]bool // names some covered architecture has
	rets  map[uint32]label
}

// program emits the whole filter: dispatch on the audit architecture, then
// one section per architecture.
//
//	ld arch
//	jeq AUDIT_ARCH_X86_64 → x86_64 section (x86_64 and x32 share the token)
//	jeq AUDIT_ARCH_I386   → i386 section
//	ret bad-arch
func (g *generator) program(archs []*arch) {
	var has64, hasX32, hasX86 bool
	for _, a := range archs {
		switch a {
		case archX86_64:
			has64 = true
		case archX32:
			hasX32 = true
		case archX86:
			hasX86 = true
		}
	}
	g.rets = map[uint32]label{}
	bad := g.a.newLabel()
	l64, l86 := g.a.newLabel(), g.a.newLabel()
	g.a.load(offArch)
	if has64 || hasX32 {
		g.a.jump(opJeq, auditArchX86_64, l64, next)
	}
	if hasX86 {
		g.a.jump(opJeq, auditArchI386, l86, next)
	}
	g.a.bind(bad)
	g.a.ret(badArchRet)
	if has64 || hasX32 {
		g.a.bind(l64)
		g.sectionX86_64(has64, hasX32)
	}
	if hasX86 {
		g.a.bind(l86)
		g.a.load(offNr)
		g.table(archX86, 0, 1<<32)
	}
}

// sectionX86_64 splits the x86_64 audit token by the x32 bit: below it the
// x86_64 table, at and above it the x32 table. A number with the bit when
// x32 is not covered is a bad architecture, not a way around the filter.
func (g *generator) sectionX86_64(has64, hasX32 bool) {
	lx32, l64 := g.a.newLabel(), g.a.newLabel()
	if !hasX32 {
		lx32 = g.retLabel(badArchRet)
	}
	if !has64 {
		l64 = g.retLabel(badArchRet)
	}
	g.a.load(offNr)
	g.a.jump(opJge, x32Bit, lx32, l64)
	if has64 {
		g.a.bind(l64)
		g.table(archX86_64, 0, x32Bit)
	} else {
		g.flushRets()
	}
	if hasX32 {
		g.a.bind(lx32)
		g.table(archX32, x32Bit, 1<<32)
	}
}

// handler is what one syscall number does: its surviving rules.
type handler struct {
	nr    uint32
	rules []*rule
}

// resolve looks the rules' names up in a's table. It returns, sorted by
// number, the syscalls whose outcome is not simply the default, and the
// highest number any rule names (0 when none).
func (g *generator) resolve(a *arch) ([]handler, uint32) {
	type use struct{ nr, rule uint32 }
	var uses []use
	var max uint32
	for i, r := range g.cfg.rules {
		for _, name := range r.names {
			nr, ok := a.table.lookup(name)
			if !ok {
				continue
			}
			g.known[name] = true
			max = maxU32(max, nr)
			if r.ret != g.cfg.defRet {
				uses = append(uses, use{nr, uint32(i)})
			}
		}
	}
	slices.SortFunc(uses, func(x, y use) int { return cmp.Or(cmp.Compare(x.nr, y.nr), cmp.Compare(x.rule, y.rule)) })
	uses = slices.Compact(uses) // a name twice in one rule
	var out []handler
	for i := 0; i < len(uses); {
		j := i
		var rules []*rule
		for ; j < len(uses) && uses[j].nr == uses[i].nr; j++ {
			rules = append(rules, &g.cfg.rules[uses[j].rule])
		}
		out = append(out, handler{nr: uses[i].nr, rules: ordered(rules)})
		i = j
	}
	return out, max
}

func maxU32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// ordered sorts a syscall's rules most restrictive first (stable), and drops
// those after the first one without conditions: they can never decide.
func ordered(rules []*rule) []*rule {
	slices.SortStableFunc(rules, func(x, y *rule) int { return cmp.Compare(precedence(x.ret), precedence(y.ret)) })
	for i, r := range rules {
		if len(r.conds) == 0 {
			return rules[:i+1]
		}
	}
	return rules
}

// precedence orders return values as the kernel does: lower is more
// restrictive (the action bits compared as a signed number).
func precedence(ret uint32) int32 { return int32(ret & unix.SECCOMP_RET_ACTION_FULL) }

// retLabel returns a label on a `ret k` shared within the current section.
func (g *generator) retLabel(k uint32) label {
	l, ok := g.rets[k]
	if !ok {
		l = g.a.newLabel()
		g.rets[k] = l
	}
	return l
}

// flushRets emits the section's shared returns.
func (g *generator) flushRets() {
	ks := make([]uint32, 0, len(g.rets))
	for k := range g.rets {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	for _, k := range ks {
		g.a.bind(g.rets[k])
		g.a.ret(k)
	}
	g.rets = map[uint32]label{}
}
