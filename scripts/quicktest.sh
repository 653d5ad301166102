#!/bin/sh
# Build and run one cmocka unit test against just the sources it needs,
# with ASan+UBSan, without building the whole library:
#   scripts/quicktest.sh tests/unit/test_guard.c src/proxy/guard.c src/util/*.c
# Useful while other modules are half-written.  `make unit` is the real run.
set -eu
test=$1
shift
out=/tmp/keyhole-quicktest/$(basename "$test" .c)
mkdir -p "$(dirname "$out")" build/gen
for d in data/*.json; do
	n=$(basename "$d" .json | tr - _)
	[ -f "build/gen/data_$n.c" ] && [ "build/gen/data_$n.c" -nt "$d" ] ||
		sh scripts/embed.sh "data_${n}_json" "$d" > "build/gen/data_$n.c"
done
PKGS="libevent_core libevent_extra libevent_openssl openssl jansson libseccomp cmocka"
${CC:-cc} -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
    -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -g -O1 \
    -fsanitize=address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=undefined -Isrc -Ibuild/gen -Itests/unit \
    $(pkg-config --cflags $PKGS) -o "$out" "$test" "$@" build/gen/data_*.c \
    $(pkg-config --libs $PKGS) -lhttp_parser -ldl
"$out"
