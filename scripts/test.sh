#!/usr/bin/env bash
# test.sh: corral's test command, the one CI runs.
#
#   1. scripts/lint.sh (gofmt, vet, staticcheck, dependency direction)
#   2. units: `go test -race` on every package but the root packages
#   3. root tests: `go test` (no -race) on the root packages, those whose
#      tests use testutil or check the euid; they need root and sandbox
#      themselves (testutil.Sandbox in TestMain)
#   4. test/oci/conformance.sh, when present and executable
#   5. callers: dockerd driving this tree's corral (test/callers/dockerd.sh),
#      and runc v1.1.5's own bats tests on runc and corral in one sitting
#      (test/callers/runc-bats.sh, about 6 minutes; fails only when corral
#      fails a test runc passes)
#   6. cgroup v2 (VM): scripts/vm-test.sh runs runtime/cgroups,
#      runtime/nsenter, testutil and test/oci in a VM on Debian 12's kernel
#      (6.1) with a pure cgroup v2 hierarchy, about 5 minutes under TCG; its
#      tests count in the tally as packages vm:<path>. It skips, saying why,
#      only where no VM can run (not root, not x86_64, too little memory, no
#      way to install qemu); see docs/vm-tests.md
#
# Every stage runs even when an earlier one failed; the exit status is
# non-zero when any failed. The last line counts the Go tests.
#
# Environment:
#   CORRAL_TEST_TIMEOUT=15m       go test -timeout, per package
#   CORRAL_SKIP_CONFORMANCE=1     skip test/oci/conformance.sh (slow)
#   CORRAL_SKIP_VM=1              skip the cgroup v2 VM stage
#   CORRAL_TEST_LOG=FILE          keep go test -json output there
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
require_go

TIMEOUT=${CORRAL_TEST_TIMEOUT:-15m}
if [ -n "${CORRAL_TEST_LOG:-}" ]; then
	LOG=$CORRAL_TEST_LOG
else
	LOG=$(mktemp -t corral-test.XXXXXX.json)
	trap 'rm -f "$LOG"' EXIT
fi
: >"$LOG"
MODULE=$(go list -m)
failed=()

# SHOW prints go test -json events as go test's normal output: package lines
# (ok, FAIL, build errors) at once, a test's own output only if it fails.
# shellcheck disable=SC2016 # jq program, not shell.
SHOW='
foreach inputs as $e ({buf: {}, out: null};
  (($e.Package // $e.ImportPath // "") + " " + ($e.Test // "")) as $k
  | if $e.Action == "build-output" then .out = $e.Output
    elif $e.Test == null then
      .out = (if $e.Action == "output" and $e.Output != "PASS\n" then $e.Output else null end)
    elif $e.Action == "output" then
      (if ($e.Output | test("^=== (RUN|PAUSE|CONT|NAME)")) then . else .buf[$k] += $e.Output end)
      | .out = null
    elif $e.Action == "fail" then .out = .buf[$k] | del(.buf[$k])
    elif $e.Action == "pass" or $e.Action == "skip" then del(.buf[$k]) | .out = null
    else .out = null end;
  .out // empty)'

# TALLY counts test results; a package that failed without a failing test
# (build error, panic in TestMain, timeout) counts as one failure.
# shellcheck disable=SC2016 # jq program, not shell.
TALLY='
reduce inputs as $e ({pass: 0, fail: 0, skip: 0, pkgs: {}, tests: {}};
  if $e.Test != null then
    if $e.Action == "pass" then .pass += 1
    elif $e.Action == "skip" then .skip += 1
    elif $e.Action == "fail" then .fail += 1 | .tests[$e.Package] = true
    else . end
  elif $e.Action == "fail" then .pkgs[$e.Package] = true
  else . end)
| . as $s | .fail += ([$s.pkgs | keys[] | select($s.tests[.] | not)] | length)
| "\(.pass) passed, \(.fail) failed, \(.skip) skipped"'

# packages prints the module's packages, "root" or "unit" then the path. A
# package is a root package when its tests use testutil (Sandbox,
# RequireRoot) or check the euid themselves.
ROOT_TESTS="\"$MODULE/testutil\"|Geteuid\(\)|RequireRoot\(|Sandbox\("
packages() {
	local path dir files
	go list -e -f '{{.ImportPath}}{{"\t"}}{{.Dir}}{{"\t"}}{{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./... |
		while IFS=$'\t' read -r path dir files; do
			# shellcheck disable=SC2086 # test file names hold no spaces.
			if [ -n "${files// /}" ] && (cd "$dir" && grep -qE "$ROOT_TESTS" $files); then
				echo "root $path"
			else
				echo "unit $path"
			fi
		done
}

# gotest runs go test with the given flags and packages, showing its output.
gotest() {
	if ! command -v jq >/dev/null; then
		go test "$@"
		return
	fi
	go test -json "$@" | tee -a "$LOG" | jq -nrj --unbuffered "$SHOW"
}

stage() {
	local name=$1
	shift
	log "test: $name"
	if "$@"; then
		log "test: $name ok"
		return
	fi
	log "test: $name FAILED"
	failed+=("$name")
}

conformance() {
	local script=test/oci/conformance.sh
	if [ "${CORRAL_SKIP_CONFORMANCE:-}" = 1 ]; then
		log "CORRAL_SKIP_CONFORMANCE=1: $script skipped"
		return 0
	fi
	if [ ! -x "$script" ]; then
		log "$script absent or not executable; skipped"
		return 0
	fi
	# Its exit status is non-zero only for failures runc does not also have.
	# A pipe of its own as stdin: never hand the host's /dev/null to a container.
	: | "$script" "$CORRAL_RUNC"
}

# callers runs real programs that drive runc (dockerd) against this tree's
# corral; CORRAL_SKIP_CALLERS=1 skips them.
callers() {
	if [ "${CORRAL_SKIP_CALLERS:-}" = 1 ]; then
		log "CORRAL_SKIP_CALLERS=1: test/callers skipped"
		return 0
	fi
	if ! command -v dockerd >/dev/null; then
		log "dockerd not installed (scripts/install.sh installs docker.io); test/callers/dockerd.sh skipped"
		return 0
	fi
	: | bash test/callers/dockerd.sh "$CORRAL_RUNC"
}

# runc_bats runs runc's own integration tests on runc and on this tree's
# corral in one sitting; it fails only when corral fails a test runc passes.
runc_bats() {
	if [ "${CORRAL_SKIP_CALLERS:-}" = 1 ]; then
		log "CORRAL_SKIP_CALLERS=1: test/callers/runc-bats.sh skipped"
		return 0
	fi
	: | bash test/callers/runc-bats.sh "$CORRAL_RUNC"
}

# vm_tests runs the cgroup v2 tests in a VM, their go test events into $LOG.
# CORRAL_VM_OPTIONAL=1: a machine that cannot run the VM skips it with the
# reason, rather than failing.
vm_tests() {
	if [ "${CORRAL_SKIP_VM:-}" = 1 ]; then
		log "CORRAL_SKIP_VM=1: scripts/vm-test.sh skipped"
		return 0
	fi
	: | CORRAL_TEST_LOG=$LOG CORRAL_VM_OPTIONAL=1 bash scripts/vm-test.sh
}

# build_tree builds this checkout's corral for the script stages, so they
# test the tree and not whatever is installed.
build_tree() {
	BUILD=$(mktemp -d -t corral-test-bin.XXXXXX)
	go build -buildvcs=false "${CORRAL_BUILD_FLAGS[@]}" -o "$BUILD/corrald" ./cmd/corrald
	go build -buildvcs=false "${CORRAL_BUILD_FLAGS[@]}" -o "$BUILD/corral" ./cmd/corral
	go build -buildvcs=false -o "$BUILD/corral-runc" ./cmd/corral-runc
	CORRAL_RUNC=$BUILD/corral-runc
}

main() {
	local all units roots
	stage lint bash scripts/lint.sh
	all=$(packages)
	units=$(awk '$1 == "unit" { print $2 }' <<<"$all")
	roots=$(awk '$1 == "root" { print $2 }' <<<"$all")
	# shellcheck disable=SC2086 # one import path a line.
	[ -z "$units" ] || stage "units (-race)" gotest -race -timeout "$TIMEOUT" $units
	# shellcheck disable=SC2086 # one import path a line.
	[ -z "$roots" ] || stage "root tests" gotest -count=1 -timeout "$TIMEOUT" $roots
	build_tree
	stage "oci conformance" conformance
	stage "callers: dockerd" callers
	stage "callers: runc's bats tests" runc_bats
	rm -rf "$BUILD"
	stage "cgroup v2 (VM)" vm_tests
	if [ ${#failed[@]} -gt 0 ]; then
		log "FAILED: $(IFS=,; echo "${failed[*]}")"
	fi
	if command -v jq >/dev/null; then
		printf 'tests: %s\n' "$(jq -nr "$TALLY" <"$LOG")"
	fi
	[ ${#failed[@]} -eq 0 ]
}

main "$@"
