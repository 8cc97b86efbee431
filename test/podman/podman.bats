#!/usr/bin/env bats
# Real Podman (Debian 12's podman 4.3, conmon, the CNI plugins of
# containernetworking-plugins) with runx as its OCI runtime (`--runtime <runx>`). Its
# store and run state are private (--root, --runroot, vfs, cgroupfs, file events, its
# own network config dir). Bridge networking runs with podman inside a network
# namespace the test makes, so its bridge, iptables rules and container traffic stay
# there; the host's network is snapshotted before and after and must not change.

bats_require_minimum_version 1.5.0
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
source "$REPO/test/runx-bin.bash"
source "$REPO/test/docker/host-net.bash"
IMAGE=localhost/runx-busybox:latest

setup_file() {
  command -v podman >/dev/null || skip "podman is not installed (scripts/setup.sh installs it)"
  PM_DIR="$(mktemp -d /tmp/runx-podman.XXXXXX)"
  PM_NS="rxpm$$"
  export PM_DIR PM_NS
  ip netns add "$PM_NS"
  ip -n "$PM_NS" link set lo up
  host_net_snapshot >"$PM_DIR/host-before"
  # conmon runs the runtime with an environment of podman's choosing, without ours: a
  # wrapper hands runx the RUNX_* settings of this run (the guest files to use, above all).
  {
    echo '#!/bin/sh'
    env | grep -E '^RUNX_(INITRAMFS|KERNEL|ASSET_DIR|BOOT_TIMEOUT_MS|ACCEL|BOOT|CACHE_DIR)=' | sed -E "s/^([^=]*)=(.*)$/export \1='\2'/"
    echo "exec '$RUNX_BIN' \"\$@\""
  } >"$PM_DIR/runx"
  chmod +x "$PM_DIR/runx"
  node "$REPO/test/helpers/make-docker-archive.mjs" "$PM_DIR/image.tar" "$IMAGE"
  pm load -i "$PM_DIR/image.tar" >/dev/null
}

teardown_file() {
  [ -n "${PM_DIR:-}" ] && [ -d "$PM_DIR" ] || return 0
  pm_ns rm -af -t 0 >/dev/null 2>&1 || true
  # runx containers podman did not get to remove: it runs runx with --root under its runroot
  for root in "$PM_DIR"/run/runx "$PM_DIR"/run/*/runx; do
    [ -d "$root" ] || continue
    for id in $("$RUNX_BIN" --root "$root" list -q 2>/dev/null); do "$RUNX_BIN" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  for m in $(findmnt -rn -o TARGET | grep -E "^$PM_DIR(/|$)" | sort -r); do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  ip netns del "$PM_NS" 2>/dev/null || true
  rm -rf "$PM_DIR"
}

pm() {
  podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --storage-driver vfs --cgroup-manager cgroupfs \
    --events-backend file --network-config-dir "$PM_DIR/net" --tmpdir "$PM_DIR/tmp" --runtime "$PM_DIR/runx" "$@"
}

# podman inside the test's network namespace: CNI's bridge and iptables rules go there.
pm_ns() {
  nsenter --net="/run/netns/$PM_NS" podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --network-config-dir "$PM_DIR/net" --tmpdir "$PM_DIR/tmp" \
    --runtime "$PM_DIR/runx" "$@"
}

@test "podman run --network none: output and exit status come through, and stdin" {
  run --separate-stderr pm run --rm --network none "$IMAGE" sh -c 'echo hi; echo oops >&2; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = hi ]
  run --separate-stderr bash -c 'printf "a\nb\n" | "$@"' _ podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --network-config-dir "$PM_DIR/net" --tmpdir "$PM_DIR/tmp" \
    --runtime "$PM_DIR/runx" run -i --rm --network none "$IMAGE" wc -l
  [ "$status" -eq 0 ]
  [ "$output" = 2 ]
}

@test "podman run -d, podman kill, podman wait: the exit status is 128+SIGKILL" {
  pm run -d --network none --name sleeper "$IMAGE" sleep 1000
  [ "$(pm inspect -f '{{.State.Status}}' sleeper)" = running ]
  run pm top sleeper
  echo "podman top: $output" >&2
  [ "$status" -eq 0 ]
  pm kill sleeper
  run pm wait sleeper
  [ "$output" = 137 ]
  pm rm sleeper
}

@test "podman on its CNI bridge: a published port answers curl, containers reach each other" {
  pm_ns run -d --name web -p 127.0.0.1:18090:80 "$IMAGE" \
    sh -c 'mkdir -p /www && echo via-podman >/www/index.html && exec httpd -f -p 80 -h /www'
  for _ in $(seq 100); do
    run ip netns exec "$PM_NS" curl -s --max-time 2 http://127.0.0.1:18090/
    [ "$output" = via-podman ] && break
    sleep 0.3
  done
  [ "$output" = via-podman ]
  ip="$(pm_ns inspect -f '{{.NetworkSettings.IPAddress}}' web)"
  [ -n "$ip" ]
  run --separate-stderr pm_ns run --rm "$IMAGE" sh -c "for i in \$(seq 50); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $ip 80 | grep -x via-podman && exit 0; sleep 0.3; done; exit 1"
  echo "status $status, output: $output, stderr: $stderr" >&2
  [ "$status" -eq 0 ]
  [ "$output" = via-podman ]
  pm_ns rm -f -t 0 web
  host_net_snapshot >"$PM_DIR/host-after"
  diff "$PM_DIR/host-before" "$PM_DIR/host-after"
}

# pm_n ID: "START COUNT" as the container's process last wrote it to its volume
pm_n() {
  pm exec "$1" cat /data/n
}

# Podman checks a checkpoint by CRIU's inventory.img alone (runx writes one: manifest.ts)
# and drives runx's checkpoint and restore with runc's flags. START lives only in the
# process's memory: a restored container keeps it, a fresh start would draw another.
@test "podman container checkpoint and restore, in place and by --export/--import: a counter with a volume goes on from its memory and its volume" {
  pm run -d --network none --name ck1 -v pmvol:/data "$IMAGE" \
    sh -c 'echo "10.9.8.7 ckmarker" >>/etc/hosts; s=$RANDOM$RANDOM; i=0; while :; do i=$((i+1)); echo "$s $i" >/data/n.new; mv /data/n.new /data/n; sleep 0.1; done' >/dev/null
  for _ in $(seq 100); do [ -n "$(pm_n ck1 2>/dev/null)" ] && break; sleep 0.1; done
  read -r start0 i0 <<<"$(pm_n ck1)"
  [ -n "$start0" ]
  pm container checkpoint ck1
  [ "$(pm inspect -f '{{.State.Status}}' ck1)" = exited ]
  pm container restore ck1
  [ "$(pm inspect -f '{{.State.Status}}' ck1)" = running ]
  read -r start1 i1 <<<"$(pm_n ck1)"
  [ "$start1" = "$start0" ]
  [ "$i1" -ge "$i0" ]

  # to an archive (with the volume's content), the container and volume removed, imported
  pm container checkpoint --export "$BATS_TEST_TMPDIR/ck.tar.gz" ck1
  pm rm -f ck1 >/dev/null
  pm volume rm pmvol >/dev/null
  pm container restore --import "$BATS_TEST_TMPDIR/ck.tar.gz"
  [ "$(pm inspect -f '{{.State.Status}}' ck1)" = running ]
  read -r start2 i2 <<<"$(pm_n ck1)"
  [ "$start2" = "$start0" ]
  [ "$i2" -ge "$i1" ]
  sleep 1
  pm kill ck1 >/dev/null
  pm wait ck1 >/dev/null || true
  # the volume on the host holds the restored process's last writes
  read -r s3 i3 <"$(pm volume inspect -f '{{.Mountpoint}}' pmvol)/n"
  [ "$s3" = "$start0" ]
  [ "$i3" -gt "$i2" ]
  # each carried bind went back to its own source, though the imported config lists
  # Podman's binds in another order: hosts got the line the container added, the
  # hostname file still holds the hostname
  cfg="$(pm inspect -f '{{.OCIConfigPath}}' ck1)"
  src() { node -e 'const c = require(process.argv[1]); console.log(c.mounts.find((m) => m.destination === process.argv[2]).source)' "$cfg" "$1"; }
  grep -q ckmarker "$(src /etc/hosts)"
  [ "$(cat "$(src /etc/hostname)")" = "$(pm inspect -f '{{.Config.Hostname}}' ck1)" ]
  pm rm ck1 >/dev/null
  pm volume rm pmvol >/dev/null
}
