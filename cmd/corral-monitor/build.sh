#!/bin/sh
# build.sh OUT: builds corral-monitor, the per-container monitor in C, as a
# static binary at OUT. It is the one way to build it (monitor/main_test.go
# and bench/monitor-mem.sh use it).
set -eu
out=${1:?usage: build.sh OUT}
dir=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-gcc}
# shellcheck disable=SC2086
$CC -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-D_FORTIFY_SOURCE=2 -fstack-protector-strong -fno-plt \
	-static -Wl,-z,relro,-z,now -Wl,--gc-sections -ffunction-sections -fdata-sections -s \
	${CFLAGS:-} -o "$out" "$dir"/*.c
