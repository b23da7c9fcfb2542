# verdict.awk reads the TAP output of one runtime-tools validation program
# and prints pass, skip (every test point skipped) or fail.  The program may
# print several TAP documents (each opened by "TAP version"); each must have
# a plan met by its "ok" lines and no "not ok" line.  A document with an
# empty plan (1..0) fails if it carries an "error" diagnostic: that is how
# the hook programs of runtime-tools v0.9.0 report a failure.  No TAP at
# all passes only with -v allow_empty=1 (set for the *_fail programs, which
# print nothing when the runtime rightly refuses the config and exit
# non-zero otherwise); for any other program it means the container's
# runtimetest output never arrived.
/^TAP version/ { doc++; used[doc] = 1; next }
/^1\.\.[0-9]+/ { used[doc] = 1; plan[doc] = substr($1, 4) + 0; planned[doc] = 1; next }
/^not ok/ { if ($0 !~ /# *(TODO|SKIP)/) bad = 1; used[doc] = 1; next }
/^ok/ { used[doc] = 1; oks[doc]++; total++; if ($0 ~ /# *SKIP/) skips++; next }
/"error":/ { errs[doc] = 1 }
END {
	for (d in used) {
		if (!planned[d] || oks[d] + 0 != plan[d]) bad = 1
		if (planned[d] && plan[d] == 0 && errs[d]) bad = 1
	}
	if (length(used) == 0 && !allow_empty) bad = 1
	if (bad) print "fail"
	else if (total > 0 && skips == total) print "skip"
	else print "pass"
}
