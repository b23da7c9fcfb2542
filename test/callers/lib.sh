# shellcheck shell=bash
# lib.sh: helpers for the scripts in test/callers, which drive corral through
# its real callers (dockerd, containerd, ...) beside runc. Source it.
#
#   Checks     check_eq, check_match, check_rc, pass, fail: one PASS/FAIL
#              line per check, counted per label (the runtime variant under
#              test, $CHECK_LABEL); check_summary prints the tallies.
#   Cgroups    cgroups_create, cgroups_join, cgroups_remove: a per-run cgroup
#              below the caller's own on every mounted hierarchy, so that
#              everything a sitting starts can be found and removed.

log() { printf '%s: %s\n' "${CALLERS_NAME:-callers}" "$*" >&2; }
die() {
	log "$*"
	exit 2
}

# ---------------------------------------------------------------------------
# Checks. CHECK_LABEL names the variant the next checks belong to.

CHECK_LABEL=${CHECK_LABEL:-}
declare -A CHECK_PASSED=() CHECK_FAILED=()
CHECK_LABELS=()
CHECK_FAILURES=()

# check_count records one result ($1: 0 pass, 1 fail) for the current label.
check_count() {
	local label=${CHECK_LABEL:-all}
	if [[ ! -v CHECK_PASSED[$label] ]]; then
		CHECK_PASSED[$label]=0
		CHECK_FAILED[$label]=0
		CHECK_LABELS+=("$label")
	fi
	if (($1 == 0)); then
		CHECK_PASSED[$label]=$((CHECK_PASSED[$label] + 1))
	else
		CHECK_FAILED[$label]=$((CHECK_FAILED[$label] + 1))
	fi
}

# pass NAME prints a PASS line.
pass() {
	printf 'PASS [%s] %s\n' "${CHECK_LABEL:-all}" "$1"
	check_count 0
}

# fail NAME DETAIL prints a FAIL line with what went wrong.
fail() {
	local line
	line=$(printf 'FAIL [%s] %s: %s' "${CHECK_LABEL:-all}" "$1" "$(one_line "$2")")
	printf '%s\n' "$line"
	CHECK_FAILURES+=("$line")
	check_count 1
}

# one_line squeezes a command's output into one line of at most 400 bytes.
one_line() {
	local s
	s=$(printf '%s' "$1" | tr '\n\t' '  ' | tr -s ' ')
	((${#s} <= 400)) || s="${s:0:400}..."
	printf '%s' "$s"
}

# check_eq NAME WANT GOT [CONTEXT]: pass when GOT is WANT.
check_eq() {
	if [[ $3 == "$2" ]]; then
		pass "$1"
	else
		fail "$1" "want '$2', got '$3'${4:+ ($4)}"
	fi
}

# check_match NAME REGEX GOT [CONTEXT]: pass when GOT matches the extended
# regular expression REGEX.
check_match() {
	if [[ $3 =~ $2 ]]; then
		pass "$1"
	else
		fail "$1" "want /$2/, got '$3'${4:+ ($4)}"
	fi
}

# OUT and RC hold the combined output and exit status of the last capture.
OUT=""
RC=0

# capture CMD...: run CMD, keep its stdout and stderr in OUT, status in RC.
capture() {
	RC=0
	OUT=$("$@" 2>&1) || RC=$?
}

# check_rc NAME WANT CMD...: run CMD, pass when it exits with status WANT;
# OUT and RC are left for further checks.
check_rc() {
	local name=$1 want=$2
	shift 2
	capture "$@"
	if [[ $RC == "$want" ]]; then
		pass "$name"
	else
		fail "$name" "exit status $RC, want $want: $OUT"
	fi
}

# check_summary prints one tally a label, the failures again, and the total
# "N passed, M failed" as the last line.
check_summary() {
	local label p=0 f=0 line
	printf '\n'
	for label in "${CHECK_LABELS[@]}"; do
		printf '%s: %d passed, %d failed\n' "$label" "${CHECK_PASSED[$label]}" "${CHECK_FAILED[$label]}"
		p=$((p + CHECK_PASSED[$label]))
		f=$((f + CHECK_FAILED[$label]))
	done
	if ((${#CHECK_FAILURES[@]} > 0)); then
		printf '\nfailures:\n'
		for line in "${CHECK_FAILURES[@]}"; do printf '  %s\n' "$line"; done
	fi
	printf '%d passed, %d failed\n' "$p" "$f"
}

# check_failed_in PATTERN succeeds when a label matching the glob PATTERN had
# a failure.
check_failed_in() {
	local label
	for label in "${CHECK_LABELS[@]}"; do
		# shellcheck disable=SC2053 # PATTERN is a glob on purpose.
		[[ $label == $1 ]] && ((CHECK_FAILED[$label] > 0)) && return 0
	done
	return 1
}

# ---------------------------------------------------------------------------
# Cgroups. A per-run cgroup NAME below the caller's own cgroup on every
# cgroup hierarchy mounted (each superblock once); cgroups_create prints the
# directories, one a line.

# cgroup_hierarchies prints "MOUNTPOINT ROOT OPTIONS" for each hierarchy.
cgroup_hierarchies() {
	awk '{
		for (i = 7; $i != "-"; i++) {}
		fs = $(i + 1)
		if ((fs == "cgroup" || fs == "cgroup2") && !seen[$3]++) print $5, $4, $(i + 3)
	}' /proc/self/mountinfo
}

# cgroup_own_dir MOUNTPOINT ROOT OPTIONS [PID] prints the cgroup directory of
# PID (default: the caller) in that hierarchy, from /proc/PID/cgroup.
cgroup_own_dir() {
	local mnt=$1 root=$2 opts=$3 pid=${4:-self} id ctrls path want
	while IFS=: read -r id ctrls path; do
		if [[ -z $ctrls ]]; then
			[[ $id == 0 && $opts != *name=* ]] || continue
			[[ $(stat -f -c %T "$mnt") == cgroup2fs ]] || continue
		else
			for want in ${ctrls//,/ }; do
				[[ ,$opts, == *",$want,"* ]] || continue 2
			done
		fi
		path=${path#"$root"}
		printf '%s\n' "${mnt%/}/${path#/}"
		return 0
	done <"/proc/$pid/cgroup"
	return 1
}

# cgroup_dir PID CONTROLLER prints PID's cgroup directory in the hierarchy
# that has CONTROLLER (a v1 controller or name=NAME).
cgroup_dir() {
	local pid=$1 ctrl=$2 mnt root opts
	while read -r mnt root opts; do
		[[ ,$opts, == *",$ctrl,"* ]] || continue
		cgroup_own_dir "$mnt" "$root" "$opts" "$pid"
		return
	done < <(cgroup_hierarchies)
	return 1
}

# cgroups_create NAME makes NAME below the caller's cgroup in every hierarchy
# (a v1 cpuset gets its parent's cpus and mems) and prints the directories.
cgroups_create() {
	local name=$1 mnt root opts own dir
	while read -r mnt root opts; do
		own=$(cgroup_own_dir "$mnt" "$root" "$opts") || continue
		dir=${own%/}/$name
		mkdir "$dir" || return 1
		if [[ ,$opts, == *,cpuset,* ]]; then
			cat "$own/cpuset.cpus" >"$dir/cpuset.cpus" &&
				cat "$own/cpuset.mems" >"$dir/cpuset.mems" || return 1
		fi
		printf '%s\n' "$dir"
	done < <(cgroup_hierarchies)
}

# cgroups_at_root NAME prints NAME right below the root of each hierarchy
# where it exists: where a runtime that resolved a relative path against the
# root, not against its own cgroup, left it.
cgroups_at_root() {
	local mnt root opts
	while read -r mnt root opts; do
		[[ ! -d $mnt/$1 ]] || printf '%s\n' "$mnt/$1"
	done < <(cgroup_hierarchies)
}

# cgroups_join PID DIR...: move PID into each cgroup. On a v2 hierarchy that
# has controllers enabled below, a process may not sit in an inner cgroup:
# such hierarchies are skipped with a message.
cgroups_join() {
	local pid=$1 dir
	shift
	for dir in "$@"; do
		echo "$pid" >"$dir/cgroup.procs" 2>/dev/null ||
			log "cannot move $pid into $dir; left where it is"
	done
}

# cgroups_remove DIR...: thaw, kill and remove everything at and below each
# DIR, deepest first; prints what it could not remove and fails then.
cgroups_remove() {
	local dir sub pid tries ok=0
	for dir in "$@"; do
		[[ -d $dir ]] || continue
		for ((tries = 0; tries < 50; tries++)); do
			while read -r sub; do
				[[ ! -f $sub/freezer.state ]] || echo THAWED >"$sub/freezer.state" 2>/dev/null || true
				while read -r pid; do
					kill -KILL "$pid" 2>/dev/null || true
				done <"$sub/cgroup.procs"
				rmdir "$sub" 2>/dev/null || true
			done < <(find "$dir" -depth -type d 2>/dev/null)
			[[ -d $dir ]] || break
			sleep 0.2
		done
		if [[ -d $dir ]]; then
			log "cannot remove cgroup $dir: $(find "$dir" -type d | tr '\n' ' ')"
			ok=1
		fi
	done
	return "$ok"
}
