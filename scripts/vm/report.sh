# shellcheck shell=bash
# report.sh: what scripts/vm-test.sh prints after the VM: each package's
# result, the output of the tests that failed, and the tally. Sourced; uses
# $OUT (console.log, results.json, tests) and the VM_* settings.

# VM_SHOW prints go test -json events the way go test prints a run: package
# lines at once, a test's own output only when it fails.
# shellcheck disable=SC2016 # jq program, not shell.
VM_SHOW='
foreach inputs as $e ({out: {}, show: null};
  ($e.Package + " " + ($e.Test // "")) as $k
  | if $e.Test == null then
      .show = (if $e.Action == "output" and $e.Output != "PASS\n" then $e.Output else null end)
    elif $e.Action == "output" then
      (if ($e.Output | test("^=== (RUN|PAUSE|CONT|NAME)")) then . else .out[$k] += $e.Output end)
      | .show = null
    elif $e.Action == "fail" then .show = .out[$k] | del(.out[$k])
    elif $e.Action == "pass" or $e.Action == "skip" then del(.out[$k]) | .show = null
    else .show = null end;
  .show // empty)'

# VM_TALLY counts the tests; a package with no result line, or one that
# failed with no failing test (panic in TestMain, timeout), counts as one
# failure. $want lists the packages that ran.
# shellcheck disable=SC2016 # jq program, not shell.
VM_TALLY='
reduce inputs as $e ({pass: 0, fail: 0, skip: 0, done: {}, failed: {}, testfail: {}};
  if $e.Test != null then
    if $e.Action == "pass" then .pass += 1
    elif $e.Action == "skip" then .skip += 1
    elif $e.Action == "fail" then .fail += 1 | .testfail[$e.Package] = true
    else . end
  elif $e.Action == "pass" then .done[$e.Package] = true
  elif $e.Action == "fail" then .done[$e.Package] = true | .failed[$e.Package] = true
  else . end)
| . as $s
| .fail += ([$want[] | select(($s.done[.] | not) or ($s.failed[.] and ($s.testfail[.] | not)))] | length)
| "\(.pass) passed, \(.fail) failed, \(.skip) skipped"'

# VM_UNFINISHED makes up the result of each package of $want that has no
# result line (the VM was killed, or the test binary timed out or panicked),
# for scripts/test.sh's tally: a failed test "(did not finish)", so that it
# counts one failure more, as VM_TALLY does, whether or not some of the
# package's tests failed before, then the package's "fail".
# shellcheck disable=SC2016 # jq program, not shell.
VM_UNFINISHED='
(reduce inputs as $e ({}; if $e.Test == null and ($e.Action == "pass" or $e.Action == "fail")
  then .[$e.Package] = true else . end)) as $done
| $want[] | select($done[.] | not)
| {Action: "fail", Package: ., Test: "(did not finish)"}, {Action: "fail", Package: .}'

# report prints the results of a VM run whose timeout status was $1, and
# returns non-zero when anything failed or the VM did not finish.
report() {
	local status=$1 ok=0 events=$OUT/events.json tally want
	jq -cR 'fromjson? // empty' "$OUT/results.json" >"$events"
	jq -nrj "$VM_SHOW" <"$events"
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		log "the VM did not finish within ${VM_TIMEOUT}s (CORRAL_VM_TIMEOUT) and was killed"
		ok=1
	elif ! grep -q '^vm-test: done' "$OUT/console.log"; then
		log "the VM stopped before its tests were done (qemu status $status); its console:"
		tail -n 40 "$OUT/console.log" >&2
		ok=1
	fi
	report_conformance || ok=1
	want=$(awk '{ print $2 }' "$OUT/tests" | jq -R . | jq -s .)
	if [ -n "${CORRAL_TEST_LOG:-}" ]; then
		cat "$events" >>"$CORRAL_TEST_LOG"
		jq -nc --argjson want "$want" "$VM_UNFINISHED" <"$events" >>"$CORRAL_TEST_LOG"
	fi
	tally=$(jq -nr --argjson want "$want" "$VM_TALLY" <"$events")
	case $tally in
	*" 0 failed,"*) ;;
	*) ok=1 ;;
	esac
	log "vm-test: wall time $((SECONDS - VM_START))s"
	printf 'vm-test: %s\n' "$tally"
	return "$ok"
}

# report_conformance prints the summary of test/oci/conformance.sh when it
# ran in the VM, and fails when it did not exit 0.
report_conformance() {
	grep -q '^vm-test: run extra.sh' "$OUT/console.log" || return 0
	grep -E '^(corral|runc): [0-9]+ passed|^runc passes but corral fails|^  [a-z0-9_]+ \((fail|timeout)\)$|^no program that runc passes|^conformance: /|^    ' \
		"$OUT/console.log" || true
	grep -q '^vm-test: extra.sh exit 0$' "$OUT/console.log" && return 0
	log "test/oci/conformance.sh failed in the VM: $(grep '^vm-test: extra.sh exit' "$OUT/console.log")"
	return 1
}
