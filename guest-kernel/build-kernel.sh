#!/usr/bin/env bash
# Builds the runx guest kernel (bzImage) from Debian's linux-source-6.1 and caches it
# outside the repo, keyed by the hash of its inputs: the config fragment, this script
# and the source package's version. A cached build is reused at once.
# Prints the path of the bzImage on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${RUNX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/runx}"
src_tar=/usr/src/linux-source-6.1.tar.xz
[ -f "$src_tar" ] || { echo "build-kernel: $src_tar missing (apt-get install linux-source-6.1)" >&2; exit 1; }
src_ver="$(dpkg-query -W -f='${Version}' linux-source-6.1)"
key="$( { cat "$here/kernel.config" "$here/build-kernel.sh"; echo "$src_ver"; } | sha256sum | cut -c1-16)"
out="$cache/kernel/$key"
if [ -f "$out/bzImage" ]; then echo "$out/bzImage"; exit 0; fi

work="$(mktemp -d "$cache/kernel-build.XXXXXX" 2>/dev/null || { mkdir -p "$cache"; mktemp -d "$cache/kernel-build.XXXXXX"; })"
trap 'rm -rf "$work"' EXIT
echo "build-kernel: building guest kernel $key (linux-source $src_ver) in $work; takes ~5 min" >&2
tar -xJf "$src_tar" -C "$work"
ksrc="$(echo "$work"/linux-source-6.1)"
jobs=$(( $(nproc) + 1 ))
make -C "$ksrc" -s tinyconfig >&2
"$ksrc/scripts/kconfig/merge_config.sh" -m -O "$ksrc" "$ksrc/.config" "$here/kernel.config" >&2
make -C "$ksrc" -s olddefconfig >&2
# A fragment line that Kconfig silently dropped would give a kernel without a feature
# the agent relies on: refuse to cache such a build.
missing=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=*) grep -qxF "$line" "$ksrc/.config" || { echo "build-kernel: not applied: $line" >&2; missing=1; } ;; esac
done < "$here/kernel.config"
[ "$missing" = 0 ] || exit 1
make -C "$ksrc" -s -j"$jobs" bzImage >&2
mkdir -p "$out.tmp"
cp "$ksrc/arch/x86/boot/bzImage" "$ksrc/.config" "$out.tmp/"
cp "$ksrc/vmlinux" "$out.tmp/vmlinux"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "$out/bzImage"
