# shellcheck shell=bash
# lib.sh: the parts of test/callers/runc-bats.sh that choose the tests, run
# them inside the private namespaces and report. Sourced by runc-bats.sh,
# which defines log, die, SKIPS and the variables it exports.

# ---------------------------------------------------------------------------
# Choosing the tests.

# test_names prints the @test descriptions of bats file $1, one a line, as
# bats itself reads them (bats-preprocess's pattern, quotes stripped).
test_names() {
	local line name re='^[[:blank:]]*@test[[:blank:]]+(.*[^[:blank:]])[[:blank:]]+\{'
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		name=${BASH_REMATCH[1]#[\'\"]}
		printf '%s\n' "${name%[\'\"]}"
	done <"$1"
}

# skip_entries prints skip.txt and the skips decided at run time as
# FILE<TAB>NAME<TAB>REASON lines.
skip_entries() {
	{
		grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$SKIPS" || true
		((${#AUTO_SKIPS[@]} == 0)) || printf '%s\n' "${AUTO_SKIPS[@]}"
	} | awk -F' [|] ' 'NF >= 3 { r = $3; for (i = 4; i <= NF; i++) r = r " | " $i; print $1 "\t" $2 "\t" r }'
}

# plan_tests writes the plan $2: FILE<TAB>NAME<TAB>run|skip<TAB>REASON for
# every test of the chosen files in directory $1.
plan_tests() {
	local dir=$1 out=$2 files file name skips reason
	files=${CORRAL_BATS_FILES:-$(cd "$dir" && echo *.bats)}
	skips=$(skip_entries)
	: >"$out"
	for file in $files; do
		file=$(basename "$file")
		[[ -f $dir/$file ]] || die "no test file $file in runc $RUNC_VERSION"
		while IFS= read -r name; do
			reason=$(awk -F'\t' -v f="$file" -v n="$name" \
				'$1 == f && ($2 == "*" || $2 == n) { print $3; exit }' <<<"$skips")
			if [[ -n $reason ]]; then
				printf '%s\t%s\tskip\t%s\n' "$file" "$name" "$reason" >>"$out"
			else
				printf '%s\t%s\trun\t\n' "$file" "$name" >>"$out"
			fi
		done < <(test_names "$dir/$file")
	done
}

# name_filter prints a bats --filter regexp that matches test name $1 only.
name_filter() {
	printf '^%s$\n' "$(printf '%s' "$1" | sed 's/[][\\.*^$(){}+?|/]/\\&/g')"
}

# ---------------------------------------------------------------------------
# Inside the private namespaces.

# cgroup_mounts prints the mount point of every cgroup hierarchy mounted here.
cgroup_mounts() {
	awk '{ for (i = 7; $i != "-"; i++); if ($(i + 1) ~ /^cgroup2?$/) print $5 }' /proc/self/mountinfo
}

# make_run_cgroups creates a cgroup for the run beneath this shell's own in
# every hierarchy, joins it, and records the directories in RUN_CGROUPS.
make_run_cgroups() {
	local mnt own dir f
	RUN_CGROUPS=()
	while read -r mnt; do
		own=$(own_cgroup "$mnt")
		dir=$mnt$own/corral-runc-bats-$$
		mkdir "$dir" 2>/dev/null || continue
		for f in cpuset.cpus cpuset.mems; do
			[[ ! -e $dir/$f ]] || cat "$(dirname "$dir")/$f" >"$dir/$f"
		done
		echo $$ >"$dir/cgroup.procs"
		RUN_CGROUPS+=("$dir")
	done < <(cgroup_mounts)
}

# own_cgroup prints this shell's cgroup path in the hierarchy mounted at $1.
own_cgroup() {
	local mnt=$1 opts
	if [[ $(stat -f -c %T "$mnt") == cgroup2fs ]]; then
		awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup
		return
	fi
	opts=$(awk -v m="$mnt" '$5 == m { print $NF }' /proc/self/mountinfo)
	awk -F: -v o=",$opts," '$1 != "0" {
		n = split($2, c, ","); for (i = 1; i <= n; i++) if (index(o, "," c[i] ",")) { print $3; exit }
		if ($2 ~ /^name=/ && index(o, "," $2 ",")) { print $3; exit } }' /proc/self/cgroup
}

# clean_cgroups thaws and kills what is left in the run's cgroup trees and
# in runc's test parent (/runc-cgroups-integration-test, made by the tests
# when it did not exist before the run), then removes their sub-cgroups,
# deepest first; with "all" it also leaves and removes the run's cgroups.
clean_cgroups() {
	local trees=("${RUN_CGROUPS[@]}") mnt d pid try
	while read -r mnt; do
		d=$mnt/runc-cgroups-integration-test
		[[ -d $d ]] && ! grep -qxF "$d" "$SCRATCH/parents.before" && trees+=("$d")
	done < <(cgroup_mounts)
	((${#trees[@]} > 0)) || return 0
	if [[ ${1:-} == all ]]; then
		for d in "${RUN_CGROUPS[@]}"; do echo $$ >"$(dirname "$d")/cgroup.procs"; done
	fi
	for try in 1 2 3 4 5; do
		find "${trees[@]}" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \; 2>/dev/null
		find "${trees[@]}" -name cgroup.freeze -exec sh -c 'echo 0 >"$1"' _ {} \; 2>/dev/null
		for pid in $(find "${trees[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
			[[ $pid == "$$" ]] || kill -9 "$pid" 2>/dev/null || true
		done
		find "${trees[@]}" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
		[[ -n $(find "${trees[@]}" -mindepth 1 -type d 2>/dev/null) ]] || break
		((try == 5)) || sleep 1
	done
	[[ ${1:-} == all ]] || return 0
	rmdir "${trees[@]}" 2>/dev/null || log "cgroups left behind: $(find "${trees[@]}" -type d 2>/dev/null | paste -sd' ')"
}

# private_dev_null gives this mount namespace a /dev/null of its own, so a
# runtime that chowns the container's stdio cannot change the host's.
private_dev_null() {
	mknod -m 0666 "$SCRATCH/null" c 1 3
	mount --bind "$SCRATCH/null" /dev/null
}

# IN_PIDNS runs one bats test as the child of a bash that is PID 1 of a new
# PID namespace (bash reaps the orphans there; this VM's own PID 1 does not),
# under script(1): runc's tests expect a controlling terminal, as in runc's
# CI. The terminal is script's own pty, never the host's.
# shellcheck disable=SC2016 # expanded by that bash.
readonly IN_PIDNS='script -q -e -c '\''exec bats --tap --filter "$RB_FILTER" "$RB_FILE" >"$RB_OUT.tap" 2>"$RB_OUT.err"'\'' /dev/null >"$RB_OUT.tty" 2>&1
rc=$?
exit "$rc"'

# run_test runs test $3 of bats file $2 (its index there: $4) against
# runtime $1 (label). It appends the test's TAP lines to
# $RESULTS/$1/$2.tap, its stderr to $2.err, and its verdict (pass, fail,
# skip or timeout) and seconds to $RESULTS/$1/verdicts.
run_test() {
	local label=$1 file=$2 name=$3 idx=$4 runc=$RUNC one=$SCRATCH/one rc=0 start verdict
	local limit=${CORRAL_BATS_TIMEOUT:-60} out=$RESULTS/$label/$file
	[[ $label == corral ]] && runc=$CORRAL_LINK
	mkdir -p "$SCRATCH/tmp"
	start=$(date +%s)
	(cd "$KIT/tests/integration" && RUNC=$runc TMPDIR=$SCRATCH/tmp SHELL=/bin/bash \
		RB_FILTER=$(name_filter "$name") RB_FILE=$file RB_OUT=$one \
		timeout -s KILL "$limit" \
		unshare --pid --fork --kill-child --mount-proc bash -c "$IN_PIDNS" \
		<"$SCRATCH/stdin") 2>"$one.outer" || rc=$?
	clean_cgroups
	# A test that hung has not reported: keep what it wrote so far.
	cat "$SCRATCH"/tmp/bats-run-*/bats.*.out >"$one.partial" 2>/dev/null || true
	rm -rf "${SCRATCH:?}/tmp"
	if grep -qE '^(not )?ok 1 ' "$one.tap"; then
		sed -E -e '/^1\.\.1$/d' -e "s/^(not )?ok 1 /\\1ok $idx /" "$one.tap" >>"$out.tap"
		verdict=pass
		grep -q '^not ok ' "$one.tap" && verdict=fail
		grep -qE '^ok 1 .* # skip( .*)?$' "$one.tap" && verdict=skip
	else
		verdict=fail
		((rc == 124 || rc == 137)) && verdict=timeout
		{
			printf 'not ok %d %s\n' "$idx" "$name"
			sed -e '/^1\.\.1$/d' -e 's/^/# /' "$one.tap"
			if [[ $verdict == timeout ]]; then
				printf '# runc-bats: timed out after %ss; its output so far:\n' "$limit"
				sed 's/^/# /' "$one.partial"
			else
				printf '# runc-bats: bats exited with status %s and no result\n' "$rc"
				tail -n 5 "$one.err" "$one.outer" | sed 's/^/# stderr: /'
			fi
		} >>"$out.tap"
	fi
	{ printf '=== %s\n' "$name"; cat "$one.err"; } >>"$out.err"
	printf '%s\t%s\t%s\t%s\n' "$file" "$name" "$verdict" "$(($(date +%s) - start))" >>"$RESULTS/$label/verdicts"
}

# run_plan runs every planned test, on each runtime in turn, in plan order;
# past the deadline the tests not yet run are recorded as lost.
run_plan() {
	local deadline file name action label prev="" idx=0
	deadline=$(($(date +%s) + ${CORRAL_BATS_DEADLINE:-2400}))
	while IFS=$'\t' read -r file name action _; do
		[[ $file == "$prev" ]] || idx=0
		prev=$file
		idx=$((idx + 1))
		for label in $RUNTIMES; do
			if [[ $action == skip ]]; then
				printf '%s\t%s\tlisted\t0\n' "$file" "$name" >>"$RESULTS/$label/verdicts"
			elif (($(date +%s) >= deadline)); then
				printf '%s\t%s\tlost\t0\n' "$file" "$name" >>"$RESULTS/$label/verdicts"
			else
				run_test "$label" "$file" "$name" "$idx"
			fi
		done
		[[ $action == skip ]] || log "  $file: $name: $(verdict_line "$file" "$name")"
	done <"$RESULTS/plan"
}

# verdict_line prints "runc pass, corral fail" for test $2 of file $1.
verdict_line() {
	local label v line=""
	for label in $RUNTIMES; do
		v=$(awk -F'\t' -v f="$1" -v n="$2" '$1 == f && $2 == n { v = $3 } END { print v }' \
			"$RESULTS/$label/verdicts")
		line+="${line:+, }$label $v"
	done
	printf '%s\n' "$line"
}

inner() {
	local work=$1 label
	KIT=$work/runc
	SCRATCH=$work/run
	mount -t tmpfs -o mode=0755 corral-runc-bats "$SCRATCH"
	ip link set lo up
	: >"$SCRATCH/stdin"
	private_dev_null
	cgroup_mounts | sed 's|$|/runc-cgroups-integration-test|' | while read -r d; do
		[[ ! -d $d ]] || echo "$d"
	done >"$SCRATCH/parents.before"
	make_run_cgroups
	for label in $RUNTIMES; do
		mkdir -p "$RESULTS/$label"
		: >"$RESULTS/$label/verdicts"
	done
	run_plan
	clean_cgroups all
	umount /dev/null
}

# ---------------------------------------------------------------------------
# Report.

# count prints how many tests got a verdict matching regexp $2 on runtime $1.
count() { awk -F'\t' -v v="^($2)\$" '$3 ~ v' "$RESULTS/$1/verdicts" | wc -l; }

readonly FAILED='fail|timeout|lost'

# details prints, per runtime, where the skips came from and the time its
# tests took, then what runc itself fails here.
details() {
	local label
	printf '\n'
	for label in $RUNTIMES; do
		printf '%s: %d skipped by bats, %d listed in runc-bats/skip.txt, %d not run (deadline); tests took %ss\n' \
			"$label" "$(count "$label" skip)" "$(count "$label" listed)" "$(count "$label" lost)" \
			"$(awk -F'\t' '{ s += $4 } END { print s + 0 }' "$RESULTS/$label/verdicts")"
	done
	[[ " $RUNTIMES " != *" runc "* ]] || awk -F'\t' -v v="^($FAILED)\$" '$3 ~ v {
		if (!n++) print "\nrunc fails here:"; print "  " $1 ": " $2 " (" $3 ")" }' "$RESULTS/runc/verdicts"
}

# tally prints "LABEL: N passed, M failed, K skipped" per runtime.
tally() {
	local label
	for label in $RUNTIMES; do
		printf '%s: %d passed, %d failed, %d skipped\n' "$label" "$(count "$label" pass)" \
			"$(count "$label" "$FAILED")" "$(count "$label" 'skip|listed')"
	done
}

# regressions prints the tests runc passes and corral fails, with corral's
# output for each; returns 1 if there is any.
regressions() {
	[[ $RUNTIMES == "runc corral" ]] || return 0
	paste "$RESULTS/runc/verdicts" "$RESULTS/corral/verdicts" |
		awk -F'\t' -v v="^($FAILED)\$" '$3 == "pass" && $7 ~ v { print $1 "\t" $2 "\t" $7 }' \
			>"$RESULTS/regressions"
	if [[ ! -s $RESULTS/regressions ]]; then
		printf '\nno test that runc passes fails on corral\n'
		return 0
	fi
	printf '\ncorral output for each test runc passes and corral fails (from %s/corral/FILE.tap):\n' "$RESULTS"
	local file name
	while IFS=$'\t' read -r file name _; do
		printf '\n--- %s: %s\n' "$file" "$name"
		failure_output "$RESULTS/corral/$file.tap" "$name" | tail -n 15
	done <"$RESULTS/regressions"
	printf '\nrunc passes but corral fails (%d):\n' "$(wc -l <"$RESULTS/regressions")"
	awk -F'\t' '{ print "  " $1 ": " $2 " (" $3 ")" }' "$RESULTS/regressions"
	return 1
}

# failure_output prints the diagnostic lines bats wrote under test $2 in
# TAP file $1, less the teardown's noise about unmounted controllers.
failure_output() {
	awk -v n="$2" '
		/^(not )?ok [0-9]+ / {
			x = $0; sub(/^(not )?ok [0-9]+ /, "", x); sub(/ # in [0-9]+ ms$/, "", x)
			on = ($0 ~ /^not ok/) && x == n; next }
		/^# rmdir: failed to remove .\/sys\/fs\/cgroup\/.*: No such file or directory$/ { next }
		on && /^# / { print "    " substr($0, 3) }' "$1"
}

# report prints the whole report, the tallies last; returns 1 if corral
# fails a test that runc passes.
report() {
	local rc=0
	details
	regressions || rc=1
	printf '\nwall time %ss; logs in %s\n' "$(($(date +%s) - START))" "$RESULTS"
	tally
	return "$rc"
}
