#!/usr/bin/env bash
# lint.sh: corral's lint gate: gofmt, go vet, staticcheck, shellcheck (when
# installed), and the dependency-direction, banned-import and package-comment
# tests.
#
# Every check runs even when an earlier one fails; the exit status is
# non-zero when any failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
require_go

# Pinned: staticcheck 2026.2.2, whose go.mod asks for go 1.26.0.
STATICCHECK_VERSION=v0.8.2
TOOLS_DIR=${CORRAL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/corral/tools}

failed=()

run_check() {
	local name=$1
	shift
	log "lint: $name"
	if "$@"; then
		return
	fi
	failed+=("$name")
}

check_gofmt() {
	local files bad
	files=$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' \
		-not -path './vendor/*' | sort)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086 # one path a line, no spaces in our tree.
	bad=$(gofmt -l $files)
	[ -z "$bad" ] && return 0
	printf 'not gofmt-ed (run gofmt -w):\n%s\n' "$bad" >&2
	return 1
}

staticcheck_bin() {
	local dir=$TOOLS_DIR/staticcheck-$STATICCHECK_VERSION
	if [ ! -x "$dir/staticcheck" ]; then
		log "installing staticcheck $STATICCHECK_VERSION into $dir"
		mkdir -p "$dir"
		GOBIN=$dir go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" >&2 ||
			return 1
	fi
	printf '%s\n' "$dir/staticcheck"
}

check_staticcheck() {
	local bin
	bin=$(staticcheck_bin) || { echo "cannot install staticcheck" >&2; return 1; }
	"$bin" ./...
}

check_shellcheck() {
	if ! command -v shellcheck >/dev/null; then
		log "shellcheck not installed; skipped"
		return 0
	fi
	local scripts=(scripts/*.sh scripts/vm/*.sh .ci/run)
	local extra
	extra=$(find test bench -name '*.sh' 2>/dev/null | sort)
	# shellcheck disable=SC2206 # one path a line, no spaces in our tree.
	[ -z "$extra" ] || scripts+=($extra)
	shellcheck -x --severity=warning "${scripts[@]}"
}

check_depgraph() {
	go test -count=1 -run '^(TestDependencyDirection|TestPackageComments|TestBannedImports)$' .
}

run_check gofmt check_gofmt
run_check "go vet" go vet ./...
run_check staticcheck check_staticcheck
run_check shellcheck check_shellcheck
run_check "dependency direction" check_depgraph

if [ ${#failed[@]} -gt 0 ]; then
	printf 'lint FAILED: %s\n' "$(IFS=,; echo "${failed[*]}")" >&2
	exit 1
fi
log "lint ok"
