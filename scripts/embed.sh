#!/bin/sh
# Turn a data file into C source: embed.sh SYMBOL FILE > out.c
# The array is NUL-terminated so it can be parsed as a string; SYMBOL_len
# excludes that NUL.
set -eu
sym=$1
file=$2
len=$(wc -c < "$file" | tr -d ' ')
printf '#include <stddef.h>\n'
printf '/* generated from %s by scripts/embed.sh */\n' "$file"
printf 'const char %s[] = {\n' "$sym"
od -An -v -tx1 "$file" | sed -e 's/ *$//' -e 's/^ */\t/' -e 's/ \([0-9a-f][0-9a-f]\)/ 0x\1,/g' -e 's/^\t\([0-9a-f][0-9a-f]\)/\t0x\1,/'
printf '\t0x00\n};\n'
printf 'const size_t %s_len = %s;\n' "$sym" "$len"
