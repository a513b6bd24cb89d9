#!/usr/bin/env bash
# Build the six guests (multiboot i386 ELF) and the BIOS boot-sector guest
# (a raw 512-byte disk image) into OUTDIR (default guests/images/). The result
# is byte for byte reproducible: no paths, no timestamps, no build ids,
# symbols stripped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/images}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

CC="${CC:-gcc}"
LD="${LD:-ld}"
CFLAGS=(-m32 -march=i686 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdlib -O2
        -std=gnu11 -Wall -Wextra -Werror
        -mno-mmx -mno-sse -mno-sse2 -mno-80387
        -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-ident
        -fno-tree-loop-distribute-patterns -fno-common -ffunction-sections -fdata-sections
        -ffile-prefix-map="$here"=guests)
LDFLAGS=(-m elf_i386 --build-id=none -nostdlib -s -z max-page-size=4096 -z noexecstack --gc-sections
         -T common/link.ld)

guests=(spin kv lock ticker scatter pager)
common=(multiboot.S isr.S boot.c gdt.c idt.c pic.c pit.c serial.c print.c cmdline.c string.c
        ticks.c strbuf.c request.c dedup.c pci.c ne2k.c net.c)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$here"
objs=()
for src in "${common[@]}"; do
    obj="$tmp/common_${src%.*}.o"
    "$CC" "${CFLAGS[@]}" -c "common/$src" -o "$obj"
    objs+=("$obj")
done
for g in "${guests[@]}"; do
    "$CC" "${CFLAGS[@]}" -c "$g/$g.c" -o "$tmp/$g.o"
    # multiboot.o first: the header must be in the first 8 KiB of the file.
    "$LD" "${LDFLAGS[@]}" -o "$out/$g.elf" "${objs[@]}" "$tmp/$g.o"
done
# bootsector: 16-bit real mode, loaded by the BIOS at 0x7C00; a flat binary
# whose last two bytes are the boot signature (see bootsector/bootsector.S).
"$CC" -m32 -c bootsector/bootsector.S -o "$tmp/bootsector.o"
"$LD" -m elf_i386 --build-id=none -nostdlib --oformat binary -Ttext 0x7c00 -e _start \
    -o "$out/bootsector.img" "$tmp/bootsector.o"
size="$(wc -c < "$out/bootsector.img")"
if [ "$size" -ne 512 ]; then
    echo "bootsector.img is $size bytes, expected 512" >&2
    exit 1
fi
echo "built ${guests[*]} bootsector into $out"
