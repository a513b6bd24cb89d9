#!/usr/bin/env bash
# Builds the linux guest (guests/README.md, "linux") from Debian's i386 packages into a cache folder
# outside git: $LOCKSTEP_LINUX_DIR, default ~/.cache/lockstep/linux/:
#   bzImage        the kernel of linux-image-6.1.0-*-686-unsigned:i386 (the newest apt offers)
#   initrd.gz      /init (guests/linux/init), busybox-static:i386, kvd (guests/linux/kvd.c, static
#                  -m32), the NE2000 modules 8390.ko and ne2k-pci.ko, the IDE disk and ext2 modules
#                  (DISK_MODULES, in load order), httpd's /www (big.txt: the lines
#                  00000000..00466033, 4 MiB + 2 B, and cgi-bin/count); cpio -H newc | gzip
#   manifest.json  kernel version, the cmdline and memory to boot with, the BIOS, each file's sha256
#   deb/           the downloaded packages
# Skips everything when the manifest says the same sources built the files there; with --update it
# first asks apt for the newest packages and rebuilds when they are new. As root it installs
# what is missing (the i386 architecture, gcc's 32-bit libraries, SeaBIOS); otherwise it says what to
# install. The initrd is reproducible: fixed times, sorted names, no gzip name or time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${LOCKSTEP_LINUX_DIR:-$HOME/.cache/lockstep/linux}"
# Quiet keeps the console to the kv protocol (the kernel still prints warnings and errors there);
# ipv6.disable keeps the guest from sending router solicitations and the like on the network.
CMDLINE="console=ttyS0 cryptomgr.notests quiet ipv6.disable=1"
MEMORY_MIB=256
BIOS=/usr/share/seabios/bios.bin
VGA_BIOS=/usr/share/seabios/vgabios-stdvga.bin
# The IDE disk (ata_piix, sd_mod) and ext2 (served by ext4) with what they depend on, in load order.
DISK_MODULES="drivers/scsi/scsi_common.ko drivers/scsi/scsi_mod.ko drivers/ata/libata.ko drivers/ata/ata_piix.ko
crypto/crct10dif_common.ko crypto/crct10dif_generic.ko lib/crc-t10dif.ko lib/crc64.ko crypto/crc64_rocksoft_generic.ko
lib/crc64-rocksoft.ko block/t10-pi.ko drivers/scsi/sd_mod.ko lib/crc16.ko fs/mbcache.ko fs/jbd2/jbd2.ko
crypto/crc32c_generic.ko fs/ext4/ext4.ko"

say() { echo "build:linux: $*" >&2; }
fail() { say "$*"; exit 1; }
root() { [ "$(id -u)" -eq 0 ]; }

for tool in apt-cache apt-get dpkg dpkg-deb sha256sum; do
    command -v "$tool" >/dev/null || fail "needs $tool (a Debian or Ubuntu system with apt)"
done
# The rest are ordinary packages (the tool's own name), installed when missing as the test scripts do.
missing=()
for tool in cpio gzip gcc tar; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
    root || fail "needs ${missing[*]}: sudo apt-get install ${missing[*]}"
    say "installing ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
        fail "could not install ${missing[*]} with apt-get"
fi

update=0
case "${1:-}" in
    --update) update=1 ;;
    "") ;;
    *) fail "usage: guests/linux/build.sh [--update]   (--update: look for newer packages even when up to date)" ;;
esac
sha() { sha256sum < "$1" | cut -d' ' -f1; }
manifest="$out/manifest.json"
# The files are what the manifest says were built there, from these sources.
sources="$(cat "$here/build.sh" "$here/init" "$here/kvd.c" "$here/count" | sha256sum | cut -d' ' -f1)"
built() {
    [ -f "$manifest" ] && [ -f "$out/bzImage" ] && [ -f "$out/initrd.gz" ] &&
        grep -q "\"$1\": \"$2\"" "$manifest" &&
        grep -q "\"sha256\": \"$(sha "$out/bzImage")\"" "$manifest" &&
        grep -q "\"sha256\": \"$(sha "$out/initrd.gz")\"" "$manifest"
}
# Asking apt takes a while: without --update, sources unchanged since the last build are enough.
if [ "$update" -eq 0 ] && built sources "$sources"; then
    say "up to date in $out (npm run build:linux -- --update looks for a newer kernel package)"
    exit 0
fi

# i386 packages: the architecture must be known to dpkg, and apt must have its package lists.
if ! dpkg --print-foreign-architectures | grep -qx i386; then
    root || fail "dpkg has no i386 architecture: run as root, or first: sudo dpkg --add-architecture i386 && sudo apt-get update"
    say "adding the i386 architecture (dpkg --add-architecture i386; apt-get update)"
    dpkg --add-architecture i386
    apt-get update -qq
fi
kernel_pkgs() { apt-cache pkgnames linux-image-6.1.0- | grep -E '^linux-image-6\.1\.0-[0-9]+-686-unsigned$' | sort -V || true; }
kernel_pkg="$(kernel_pkgs | tail -n 1)"
if [ -z "$kernel_pkg" ] && root; then
    say "apt knows no i386 kernel package: apt-get update"
    apt-get update -qq
    kernel_pkg="$(kernel_pkgs | tail -n 1)"
fi
[ -n "$kernel_pkg" ] || fail "apt offers no linux-image-6.1.0-*-686-unsigned:i386 (sudo apt-get update?)"

# The 32-bit C library and gcc's 32-bit support, for kvd.
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'int main(void) { return 0; }' > "$probe/t.c"
if ! gcc -m32 -static -o "$probe/t" "$probe/t.c" 2>/dev/null; then
    if root; then
        say "installing libc6-dev-i386 gcc-multilib"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libc6-dev-i386 gcc-multilib >/dev/null
    else
        fail "gcc cannot build static 32-bit programs: sudo apt-get install libc6-dev-i386 gcc-multilib"
    fi
fi
if [ ! -f "$BIOS" ] || [ ! -f "$VGA_BIOS" ]; then
    if root; then
        say "installing seabios"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq seabios >/dev/null
    else
        fail "no SeaBIOS at $BIOS: sudo apt-get install seabios"
    fi
fi

# The candidate versions of both packages, in one question to apt.
versions="$(apt-cache show --no-all-versions "$kernel_pkg:i386" busybox-static:i386 |
    awk '/^Package: /{p=$2} /^Version: /{print p, $2}')"
kernel_version="$(awk -v p="$kernel_pkg" '$1==p{print $2; exit}' <<< "$versions")"
busybox_version="$(awk '$1=="busybox-static"{print $2; exit}' <<< "$versions")"
[ -n "$kernel_version" ] && [ -n "$busybox_version" ] || fail "apt has no candidate version of $kernel_pkg:i386 or busybox-static:i386"
kernel_release="${kernel_pkg#linux-image-}"
kernel_release="${kernel_release%-unsigned}" # 6.1.0-57-686

mkdir -p "$out/deb"
out="$(cd "$out" && pwd)"
# apt-get download's file name: the epoch's colon is written %3a.
deb_of() { echo "$out/deb/${1}_${2//:/%3a}_i386.deb"; }
fetch() {
    local deb
    deb="$(deb_of "$1" "$2")"
    if [ ! -s "$deb" ]; then
        say "downloading $1:i386 $2"
        (cd "$out/deb" && apt-get download -qq "$1:i386=$2" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
        [ -s "$deb" ] || fail "apt-get download $1:i386=$2 did not give $deb"
    fi
    echo "$deb"
}
kernel_deb="$(fetch "$kernel_pkg" "$kernel_version")"
busybox_deb="$(fetch busybox-static "$busybox_version")"

# What the build depends on: when the manifest records the same, the files are up to date.
inputs="$(echo "$sources $(basename "$kernel_deb") $(basename "$busybox_deb") $(gcc -dumpfullversion)" | sha256sum | cut -d' ' -f1)"
if built inputs "$inputs"; then
    say "up to date in $out ($kernel_release is still the newest)"
    exit 0
fi

work="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$probe" "$work"' EXIT
say "building in $out ($kernel_release)"

# The kernel and the modules it needs only, not the whole package.
mkdir "$work/kernel"
kernel_dir="./lib/modules/$kernel_release/kernel"
moddir="$kernel_dir/drivers/net/ethernet/8390"
disk_paths=()
for module in $DISK_MODULES; do disk_paths+=("$kernel_dir/$module"); done
dpkg-deb --fsys-tarfile "$kernel_deb" |
    tar -x -C "$work/kernel" "./boot/vmlinuz-$kernel_release" "$moddir/8390.ko" "$moddir/ne2k-pci.ko" "${disk_paths[@]}"
mkdir "$work/busybox"
dpkg-deb --fsys-tarfile "$busybox_deb" | tar -x -C "$work/busybox" ./bin/busybox

gcc -m32 -static -O2 -std=gnu11 -Wall -Wextra -Werror -fno-ident -s -Wl,--build-id=none \
    -ffile-prefix-map="$here"=guests/linux -o "$work/kvd" "$here/kvd.c"

root_dir="$work/root"
mkdir -p "$root_dir"/{bin,dev,proc,sys,tmp,lib/modules,www/cgi-bin}
install -m 0755 "$here/init" "$root_dir/init"
install -m 0755 "$work/busybox/bin/busybox" "$root_dir/bin/busybox"
install -m 0755 "$work/kvd" "$root_dir/bin/kvd"
install -m 0644 "$work/kernel/$moddir/8390.ko" "$work/kernel/$moddir/ne2k-pci.ko" "$root_dir/lib/modules/"
# What httpd serves: a file a client can check without asking the guest (test/linux/tap.test.ts
# computes the same lines), and a CGI counter kept in /tmp.
seq -f '%08.0f' 0 466033 > "$root_dir/www/big.txt"
install -m 0755 "$here/count" "$root_dir/www/cgi-bin/count"
for path in "${disk_paths[@]}"; do install -m 0644 "$work/kernel/$path" "$root_dir/lib/modules/"; done
# init loads them in this order (each after what it depends on).
for module in $DISK_MODULES; do basename "$module"; done > "$root_dir/lib/modules/disk.order"
for applet in sh mount umount insmod ip poweroff cat echo ls dmesg httpd printf mkdir sync head sort md5sum; do
    ln -s busybox "$root_dir/bin/$applet"
done
find "$root_dir" -exec touch -h -d @0 {} +
(cd "$root_dir" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n > "$work/initrd.gz"
cp "$work/kernel/boot/vmlinuz-$kernel_release" "$work/bzImage"

cat > "$work/manifest.json" <<EOF
{
  "guest": "linux",
  "kernel": "$kernel_release",
  "kernelPackage": "$kernel_pkg:i386 $kernel_version",
  "busyboxPackage": "busybox-static:i386 $busybox_version",
  "cmdline": "$CMDLINE",
  "memoryMiB": $MEMORY_MIB,
  "bios": "$BIOS",
  "vgaBios": "$VGA_BIOS",
  "files": {
    "bzImage": { "sha256": "$(sha "$work/bzImage")", "bytes": $(stat -c %s "$work/bzImage") },
    "initrd.gz": { "sha256": "$(sha "$work/initrd.gz")", "bytes": $(stat -c %s "$work/initrd.gz") }
  },
  "sources": "$sources",
  "inputs": "$inputs"
}
EOF
# The manifest last: a build cut short leaves no manifest that vouches for the files.
rm -f "$manifest"
mv "$work/bzImage" "$work/initrd.gz" "$out/"
mv "$work/manifest.json" "$manifest"
say "built $out/bzImage, initrd.gz, manifest.json ($kernel_release, kvd $(stat -c %s "$work/kvd") bytes)"
