package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// interval is a range of syscall numbers, from start up to the next
// interval's start, that all go to target.
type interval struct {
	start  uint64
	target label
}

// table emits the code for one architecture's syscalls. The accumulator
// holds the syscall number, known to lie in [lo, hi). It emits a binary
// search over ranges of numbers with one outcome, then the code of the
// syscalls whose rules have conditions, then the returns they share.
func (g *generator) table(a *arch, lo, hi uint64) {
	handlers, max := g.resolve(a)
	var conditional []handler
	var condLabels []label
	ivs := []interval{{start: lo, target: g.retLabel(g.cfg.defRet)}}
	for _, h := range handlers {
		var target label
		if len(h.rules[0].conds) == 0 {
			target = g.retLabel(h.rules[0].ret)
		} else {
			target = g.a.newLabel()
			conditional = append(conditional, h)
			condLabels = append(condLabels, target)
		}
		ivs = addInterval(ivs, uint64(h.nr), target)
		ivs = addInterval(ivs, uint64(h.nr)+1, g.retLabel(g.cfg.defRet))
	}
	if max != 0 && !permissive(g.cfg.defRet) {
		ivs = addInterval(ivs, uint64(max)+1, g.retLabel(enosysRet))
	}
	if ivs[len(ivs)-1].start >= hi {
		ivs = ivs[:len(ivs)-1]
	}
	g.tree(ivs)
	for i, h := range conditional {
		g.a.bind(condLabels[i])
		g.handler(a, h)
	}
	g.flushRets()
}

// enosysRet is what syscalls numbered above every one the profile names get
// when the default action denies: ERRNO(ENOSYS), as runc's stub gives them,
// so that a C library falls back from a syscall newer than the profile (say
// clone3 or fchmodat2) as it would on an older kernel, instead of failing
// with the default errno. It denies all the same.
const enosysRet = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)

// permissive reports whether a default action lets syscalls run (or leaves
// them to a tracer); then runc adds no ENOSYS stub, nor do we.
func permissive(ret uint32) bool {
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG, unix.SECCOMP_RET_TRACE:
		return true
	}
	return false
}

// addInterval appends [start, …) → target, merging it into the last
// interval when that already goes to target.
func addInterval(ivs []interval, start uint64, target label) []interval {
	last := &ivs[len(ivs)-1]
	switch {
	case last.target == target:
		return ivs
	case last.start == start:
		last.target = target
		if len(ivs) > 1 && ivs[len(ivs)-2].target == target {
			return ivs[:len(ivs)-1]
		}
		return ivs
	}
	return append(ivs, interval{start: start, target: target})
}

// tree emits a balanced search over ivs: each node is `jge start` of the
// middle interval; a side that is a single interval jumps to its target.
func (g *generator) tree(ivs []interval) {
	if len(ivs) == 1 {
		g.a.ja(ivs[0].target)
		return
	}
	g.node(ivs)
}

func (g *generator) node(ivs []interval) {
	mid := len(ivs) / 2
	left, right := ivs[:mid], ivs[mid:]
	lt, rt := g.side(left), g.side(right)
	g.a.jump(opJge, uint32(right[0].start), rt, lt)
	for _, side := range []struct {
		ivs []interval
		l   label
	}{{left, lt}, {right, rt}} {
		if len(side.ivs) > 1 {
			g.a.bind(side.l)
			g.node(side.ivs)
		}
	}
}

// side returns where a node jumps for ivs: the target of a single interval,
// else a label for the subtree emitted later.
func (g *generator) side(ivs []interval) label {
	if len(ivs) == 1 {
		return ivs[0].target
	}
	return g.a.newLabel()
}

// handler emits one syscall's rules, most restrictive first: each rule's
// conditions go on while they hold, its last one jumps to the rule's return
// when it holds too; a failing condition skips to the next rule, and after
// the last rule comes the default action.
func (g *generator) handler(a *arch, h handler) {
	for i, r := range h.rules {
		if len(r.conds) == 0 {
			g.a.ret(r.ret) // ordered() made it the last rule
			return
		}
		last := i == len(h.rules)-1
		fail := g.retLabel(g.cfg.defRet)
		if !last {
			fail = g.a.newLabel()
		}
		for j, c := range r.conds {
			pass := next
			if j == len(r.conds)-1 {
				pass = g.retLabel(r.ret)
			}
			g.cond(a, c, pass, fail)
		}
		if !last {
			g.a.bind(fail)
		}
	}
}

// cond emits one comparison: it goes to pass (next: the instruction after
// it) when the condition holds, to fail when not.
func (g *generator) cond(a *arch, c cond, pass, fail label) {
	if a.bits32 {
		g.cond32(c, pass, fail)
		return
	}
	lo, hi := uint32(c.value), uint32(c.value>>32)
	early := pass // where a decision on the high half alone goes
	if pass == next {
		early = g.a.newLabel()
	}
	g.a.load(offArgHi(c.index))
	switch c.op {
	case specs.OpEqualTo:
		g.a.jump(opJeq, hi, next, fail)
		g.a.load(offArgLo(c.index))
		g.a.jump(opJeq, lo, pass, fail)
	case specs.OpNotEqual:
		g.a.jump(opJeq, hi, next, early)
		g.a.load(offArgLo(c.index))
		g.a.jump(opJeq, lo, fail, pass)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		op := opJgt
		if c.op == specs.OpGreaterEqual {
			op = opJge
		}
		g.a.jump(opJgt, hi, early, next)
		g.a.jump(opJeq, hi, next, fail)
		g.a.load(offArgLo(c.index))
		g.a.jump(op, lo, pass, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		op := opJge // arg < v fails when arg >= v
		if c.op == specs.OpLessEqual {
			op = opJgt
		}
		g.a.jump(opJgt, hi, fail, next)
		g.a.jump(opJeq, hi, next, early)
		g.a.load(offArgLo(c.index))
		g.a.jump(op, lo, fail, pass)
	case specs.OpMaskedEqual:
		g.a.and(uint32(c.value >> 32))
		g.a.jump(opJeq, uint32(c.value2>>32), next, fail)
		g.a.load(offArgLo(c.index))
		g.a.and(uint32(c.value))
		g.a.jump(opJeq, uint32(c.value2), pass, fail)
	}
	if pass == next {
		g.a.bind(early)
	}
}

// cond32 is cond on the low halves only.
func (g *generator) cond32(c cond, pass, fail label) {
	v := uint32(c.value)
	g.a.load(offArgLo(c.index))
	switch c.op {
	case specs.OpEqualTo:
		g.a.jump(opJeq, v, pass, fail)
	case specs.OpNotEqual:
		g.a.jump(opJeq, v, fail, pass)
	case specs.OpGreaterThan:
		g.a.jump(opJgt, v, pass, fail)
	case specs.OpGreaterEqual:
		g.a.jump(opJge, v, pass, fail)
	case specs.OpLessThan:
		g.a.jump(opJge, v, fail, pass)
	case specs.OpLessEqual:
		g.a.jump(opJgt, v, fail, pass)
	case specs.OpMaskedEqual:
		g.a.and(v)
		g.a.jump(opJeq, uint32(c.value2), pass, fail)
	}
}
