#!/usr/bin/env bash
# Installs what the benchmarks compare against, when missing: Debian's qemu-system-x86 (QEMU's
# record/replay, the peer in bench/record.ts and bench/logbytes.ts) and time (/usr/bin/time -v, for
# peak memory). `npm run bench` runs this by itself when qemu-system-i386 is missing and it runs as
# root (`npm run bench -- --no-install` to prevent that). Never fails: without the packages, the rows
# that need them are skipped and say how to install them.
set -u

missing=()
command -v qemu-system-i386 >/dev/null 2>&1 || missing+=(qemu-system-x86)
[ -x /usr/bin/time ] || missing+=(time)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-bench-deps: missing ${missing[*]} (not root or no apt-get; those benchmark rows will be skipped)." \
         "To install: apt-get install -y ${missing[*]}" >&2
    exit 0
fi
echo "install-bench-deps: installing ${missing[*]}" >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "install-bench-deps: could not install ${missing[*]}; those benchmark rows will be skipped" >&2
fi
exit 0
