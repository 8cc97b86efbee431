#!/usr/bin/env bash
# Makes an initramfs whose "agent" speaks protocol version 1 (a runx older than this
# one): a busybox script that says a v1 hello on the agent port and waits. For testing
# that runx refuses such a guest at once, in one line. Usage: make-old-agent-initramfs.sh OUT.cpio
set -euo pipefail
out="$1"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys}
cp /bin/busybox "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cat >"$stage/init" <<'SH'
#!/bin/sh
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox mount -t sysfs sys /sys
for p in /sys/class/virtio-ports/*; do
  [ "$(/bin/busybox cat "$p/name")" = runx.agent ] && port="/dev/${p##*/}"
done
# header: "RX", version 1, type 1 (control), length 24; then hello proto=1 agent=old
printf 'RX\001\001\000\000\000\030hello\000proto=1\000agent=old\000' >"$port"
exec /bin/busybox sleep 1000
SH
chmod 755 "$stage/init"
( cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet ) >"$out"
