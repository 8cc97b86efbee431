#!/usr/bin/env bash
# Builds the runx guest initramfs: an uncompressed newc cpio holding the guest agent as
# /init plus the empty directories it mounts on. Cached outside the repo, keyed by the
# hash of the agent sources, the protocol definition and this script; a cached build is
# reused at once. Prints the path of initramfs.cpio on stdout; logs go to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${RUNX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/runx}"
agent="$here/agent"
proto="$repo/docs/protocol/agent.json"

# Sorted file list, so the key does not depend on directory order. File names are part
# of the hash too: renaming a source changes the build.
key="$( { cd "$agent" && find . -type f \( -name '*.c' -o -name '*.h' -o -name '*.mjs' -o -name Makefile \) \
          -not -path './build/*' | LC_ALL=C sort | while IFS= read -r f; do echo "$f"; cat "$f"; done
        cat "$proto" "$here/build-initramfs.sh"; } | sha256sum | cut -c1-16)"
out="$cache/initramfs/$key"
if [ -f "$out/initramfs.cpio" ]; then echo "$out/initramfs.cpio"; exit 0; fi

mkdir -p "$cache/initramfs"
work="$(mktemp -d "$cache/initramfs/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "build-initramfs: building agent $key in $work" >&2
make -s -C "$agent" O="$work/agent" >&2

stage="$work/stage"
mkdir -p "$stage"/{dev,proc,sys,mnt,tmp}
chmod 1777 "$stage/tmp"
install -m 0755 "$work/agent/runx-agent" "$stage/init"
# Fixed owner and mtime: the archive's bytes depend on its inputs only.
find "$stage" -exec touch -h -d @0 {} +
mkdir -p "$work/pub"
( cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet ) > "$work/pub/initramfs.cpio"

# Atomic publish: a reader sees the old state or the whole new directory.
rm -rf "$out.tmp.$$"
mv "$work/pub" "$out.tmp.$$"
if ! mv -T "$out.tmp.$$" "$out" 2>/dev/null; then
  # Another build published the same key first; its output is identical.
  rm -rf "$out.tmp.$$"
fi
echo "build-initramfs: wrote $out/initramfs.cpio" >&2
echo "$out/initramfs.cpio"
