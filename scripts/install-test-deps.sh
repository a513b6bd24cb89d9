#!/usr/bin/env bash
# Installs the system packages some tests use, when they are missing and this runs as root with
# apt-get: Debian's seabios (the BIOS for test/ft/bios.test.ts), chromium (the browser that
# test/extension/panel.test.ts drives with playwright-core), socat (the tap bridge of lockstep ft --tap,
# and the UDP client of the tap tests), curl (the HTTP client of test/linux/tap.test.ts) and etcd-server (the etcd member
# test/ft/view/etcd.test.ts starts for the etcd coordinator). Harmless otherwise: it prints what is
# missing and exits 0, and the tests that need it skip, saying how to install it.
set -u

missing=()
[ -f /usr/share/seabios/bios.bin ] && [ -f /usr/share/seabios/vgabios-stdvga.bin ] || missing+=(seabios)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: missing ${missing[*]} (not root or no apt-get; the tests that need them will skip)." \
         "To install: apt-get install -y ${missing[*]}" >&2
    exit 0
fi
echo "install-test-deps: installing ${missing[*]}" >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "install-test-deps: could not install ${missing[*]}; the tests that need them will skip" >&2
fi
exit 0
