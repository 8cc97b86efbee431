#!/usr/bin/env bats
# Real Docker (Debian's docker.io, dockerd 20.10) with runx as an extra runtime
# (`--add-runtime runx=<runx>`: dockerd's containerd runs it through the runc shim,
# io.containerd.runc.v2, with BinaryName = runx). The dockerd is private: its own
# --data-root, --exec-root, socket and pidfile, no iptables, no bridge, and it starts
# its own containerd. The image is the busybox image of make-oci-image.mjs in
# `docker save` format (dockerd 20.10's `docker load` refuses OCI layouts).

bats_require_minimum_version 1.5.0
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
source "$REPO/test/runx-bin.bash"
source "$BATS_TEST_DIRNAME/host-net.bash"
IMAGE=runx-busybox:latest

setup_file() {
  command -v dockerd >/dev/null || skip "dockerd is not installed (apt-get install docker.io)"
  # Debian's client (20.10) matches the daemon; another `docker` may come first on PATH.
  DOCKER_CLI=/usr/bin/docker
  [ -x "$DOCKER_CLI" ] || DOCKER_CLI="$(command -v docker)" || skip "no docker client (apt-get install docker.io)"
  DK="$(mktemp -d /tmp/runx-docker.XXXXXX)"
  # The exec root holds containerd's sockets and the runtime's --root
  # (<exec-root>/runtime-runc/moby), under which runx makes <64-hex id>/agent.sock:
  # keep it short (unix socket paths end at 107 bytes). See the last test for the length
  # of Docker's default exec root.
  EXE="$(mktemp -d /tmp/rxd.XXX)"
  # dockerd makes /run/docker/plugins whatever its exec root: remove it after if it is ours
  [ -e /run/docker ] && RUN_DOCKER_WAS_THERE=1 || RUN_DOCKER_WAS_THERE=""
  export DK EXE DOCKER_CLI RUN_DOCKER_WAS_THERE DOCKER_HOST="unix://$DK/docker.sock"
  mkdir -p "$DK/data"
  dockerd --data-root "$DK/data" --exec-root "$EXE" -H "$DOCKER_HOST" --pidfile "$DK/dockerd.pid" \
    --iptables=false --ip6tables=false --bridge=none --experimental \
    --add-runtime "runx=$RUNX_BIN" >"$DK/dockerd.log" 2>&1 &
  echo $! >"$DK/pid"
  local up=""
  for _ in $(seq 300); do
    if "$DOCKER_CLI" version >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$(cat "$DK/pid")" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$up" ]; then
    local why
    why="$(grep -E 'level=(fatal|error)' "$DK/dockerd.log" | tail -n 3)"
    [ -n "$why" ] || why="$(tail -n 3 "$DK/dockerd.log")"
    if kill -0 "$(cat "$DK/pid")" 2>/dev/null; then
      echo "dockerd did not answer on $DOCKER_HOST within 30 s: $why" >&2
      return 1
    fi
    skip "dockerd cannot run on this host: $why"
  fi
  node "$REPO/test/helpers/make-docker-archive.mjs" "$DK/image.tar" "docker.io/library/$IMAGE"
  "$DOCKER_CLI" load -i "$DK/image.tar" >/dev/null
}

teardown_file() {
  [ -n "${DK:-}" ] && [ -d "$DK" ] || return 0
  EXE="${EXE:-/nonexistent}"
  if [ -S "$DK/docker.sock" ]; then
    for c in $("$DOCKER_CLI" ps -aq 2>/dev/null); do "$DOCKER_CLI" rm -f "$c" >/dev/null 2>&1 || true; done
  fi
  local pid ctd
  ctd="$(cat "$EXE/containerd/containerd.pid" 2>/dev/null || true)"
  pid="$(cat "$DK/pid" 2>/dev/null || true)"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true # dockerd stops the containerd it started
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$ctd" ] && kill -0 "$ctd" 2>/dev/null && grep -q "$EXE" "/proc/$ctd/cmdline" 2>/dev/null; then
    kill "$ctd" 2>/dev/null || true
  fi
  # shims of this containerd name its socket (under our exec root) on their command line
  for p in $(pgrep -f "containerd-shim.*$EXE/" || true); do kill "$p" 2>/dev/null || true; done
  # runx containers (keepers and their VMs) left behind: dockerd runs runtimes with --root here
  for root in "$EXE"/runtime-*/moby; do
    [ -d "$root" ] || continue
    for id in $("$RUNX_BIN" --root "$root" list -q 2>/dev/null); do "$RUNX_BIN" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  # overlay, netns and the data root's own bind mounts, deepest first
  for m in $(findmnt -rn -o TARGET | grep -E "^($DK|$EXE)(/|$)" | sort -r); do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  rm -rf "$DK" "$EXE"
  [ -n "$RUN_DOCKER_WAS_THERE" ] || { rmdir /run/docker/plugins 2>/dev/null && rmdir /run/docker 2>/dev/null; } || true
}

d() {
  "$DOCKER_CLI" "$@"
}

@test "docker run --rm --runtime runx: output and exit code come through" {
  run --separate-stderr d run --rm --runtime runx --network none "$IMAGE" sh -c 'echo hi; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = hi ]
  [ -z "$(d ps -aq)" ]
  # the VM is gone with the container
  for root in "$EXE"/runtime-*/moby; do
    [ -d "$root" ] || continue
    [ -z "$("$RUNX_BIN" --root "$root" list -q)" ]
  done
}

# The reported damage: Docker's libnetwork-setkey prestart hook opened
# /proc/<state.pid>/ns/net, the keeper's, which was the host's namespace (this dockerd
# runs in it), and set disable_ipv6 there, and ::1 left lo.
@test "docker run --network none with dockerd in the host's namespace leaves the host's network as it was" {
  host_net_snapshot >"$BATS_TEST_TMPDIR/before"
  run --separate-stderr d run --rm --runtime runx --network none "$IMAGE" sh -c 'cat /proc/sys/net/ipv6/conf/lo/disable_ipv6'
  [ "$status" -eq 0 ]
  host_net_snapshot >"$BATS_TEST_TMPDIR/after"
  # (lo's ::1 is among the addresses compared)
  diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
}

@test "docker run -v: eight volumes (directories and files, ro and rw) beside Docker's own binds" {
  local T="$BATS_TEST_TMPDIR/vols" vols=() i
  for i in 1 2 3 4 5 6; do mkdir -p "$T/d$i"; echo "dir $i" >"$T/d$i/f"; done
  echo "file a" >"$T/a"; echo "file b" >"$T/b"
  for i in 1 2 3; do vols+=(-v "$T/d$i:/d$i"); done
  for i in 4 5 6; do vols+=(-v "$T/d$i:/d$i:ro"); done
  vols+=(-v "$T/a:/a" -v "$T/b:/b:ro")
  run --separate-stderr d run --rm --runtime runx --network none -h volhost "${vols[@]}" "$IMAGE" sh -c '
    for i in 1 2 3 4 5 6; do cat /d$i/f; { echo w$i >/d$i/f; } 2>/dev/null || echo "ro $i"; done
    cat /a /b; echo wa >/a; { echo wb >/b; } 2>/dev/null || echo "ro b"
    hostname; cat /etc/hostname'
  echo "$output"; echo "$stderr"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'dir 1\ndir 2\ndir 3\ndir 4\nro 4\ndir 5\nro 5\ndir 6\nro 6\nfile a\nfile b\nro b\nvolhost\nvolhost')" ]
  for i in 1 2 3; do [ "$(cat "$T/d$i/f")" = "w$i" ]; done
  for i in 4 5 6; do [ "$(cat "$T/d$i/f")" = "dir $i" ]; done
  [ "$(cat "$T/a")" = wa ]
  [ "$(cat "$T/b")" = "file b" ]
}

# docker checkpoint needs dockerd's --experimental (20.10); Docker calls the runtime's
# checkpoint through containerd's shim (runc's flags: --image-path, --work-path), and
# start --checkpoint its restore. A named volume and Docker's own file binds are carried.
@test "docker checkpoint create and docker start --checkpoint: a counter with a volume goes on from its memory and its volume; the volume gets its writes" {
  d run -d --runtime runx --network none --name ck1 -v ckvol:/data "$IMAGE" \
    sh -c 's=$RANDOM$RANDOM; i=0; while :; do i=$((i+1)); echo "$s $i" >/data/n.new; mv /data/n.new /data/n; echo "$i"; sleep 0.1; done' >/dev/null
  for _ in $(seq 100); do [ -n "$(d exec ck1 cat /data/n 2>/dev/null)" ] && break; sleep 0.1; done
  read -r start0 i0 <<<"$(d exec ck1 cat /data/n)"
  [ -n "$start0" ]
  d checkpoint create ck1 cp1
  [ "$(d inspect -f '{{.State.Running}}' ck1)" = false ]
  # As runc's container writes its volume itself: once the checkpoint is made, the
  # named volume on the host holds the count the image holds (containerd pauses the
  # container before it asks runx to checkpoint it).
  read -r s1 i1 <"$(d volume inspect -f '{{.Mountpoint}}' ckvol)/n"
  [ "$s1" = "$start0" ]
  [ "$i1" -ge "$i0" ]
  d start --checkpoint cp1 ck1
  [ "$(d inspect -f '{{.State.Running}}' ck1)" = true ]
  read -r start2 i2 <<<"$(d exec ck1 cat /data/n)"
  [ "$start2" = "$start0" ]
  [ "$i2" -ge "$i1" ]
  sleep 1
  d kill ck1 >/dev/null
  d wait ck1 >/dev/null || true
  # the output went on from where the checkpoint left it: no count missing or repeated
  d logs ck1 >"$BATS_TEST_TMPDIR/logs"
  awk 'NR != $0 { print "line " NR " is \"" $0 "\""; bad = 1; exit } END { if (NR < 5) { print "only " NR " lines"; bad = 1 } exit bad }' "$BATS_TEST_TMPDIR/logs"
  # the volume holds the restored process's last writes
  read -r s3 i3 <<<"$(d run --rm --runtime runc --network none -v ckvol:/data "$IMAGE" cat /data/n)"
  [ "$s3" = "$start0" ]
  [ "$i3" -gt "$i2" ]
  d rm ck1 >/dev/null
  d volume rm ckvol >/dev/null
}

@test "docker run -i: stdin reaches the container's process" {
  run --separate-stderr bash -c 'printf "one\ntwo\nthree\n" | "$DOCKER_CLI" run -i --rm --runtime runx --network none "$1" sh -c "wc -l"' _ "$IMAGE"
  [ "$status" -eq 0 ]
  [ "$output" -eq 3 ]
}

@test "docker run -d, docker kill, docker wait: the exit code is 128+SIGKILL" {
  cid="$(d run -d --runtime runx --network none "$IMAGE" sh -c 'echo up; while :; do sleep 0.2; done')"
  for _ in $(seq 100); do [ "$(d logs "$cid" 2>&1)" = up ] && break; sleep 0.1; done
  [ "$(d logs "$cid" 2>&1)" = up ]
  [ "$(d inspect -f '{{.State.Running}}' "$cid")" = true ]
  d kill "$cid"
  run d wait "$cid"
  [ "$status" -eq 0 ]
  [ "$output" = 137 ]
  [ "$(d inspect -f '{{.State.ExitCode}}' "$cid")" = 137 ]
  d rm "$cid"
}

@test "docker stop: SIGTERM reaches the container's trap, its exit code is kept" {
  cid="$(d run -d --runtime runx --network none "$IMAGE" sh -c 'trap "echo got-term; exit 7" TERM; echo up; while :; do sleep 0.2; done')"
  for _ in $(seq 100); do [ "$(d logs "$cid" 2>&1)" = up ] && break; sleep 0.1; done
  d stop -t 20 "$cid"
  run d wait "$cid"
  [ "$output" = 7 ]
  [ "$(d logs "$cid" 2>&1 | tail -n 1)" = got-term ]
  d rm "$cid"
}

@test "docker exec: output and exit code of a process started in the running container" {
  cid="$(d run -d --runtime runx --network none "$IMAGE" sh -c 'echo state > /tmp/mark; echo up; while :; do sleep 0.2; done')"
  for _ in $(seq 100); do [ "$(d logs "$cid" 2>&1)" = up ] && break; sleep 0.1; done
  run --separate-stderr d exec "$cid" sh -c 'cat /tmp/mark; exit 4'
  [ "$status" -eq 4 ]
  [ "$output" = state ]
  run bash -c 'echo piped | "$DOCKER_CLI" exec -i "$1" cat' _ "$cid"
  [ "$output" = piped ]
  d rm -f "$cid"
}

@test "docker run -t and docker exec -t: the container gets a terminal" {
  command -v script >/dev/null || skip "script(1) from util-linux gives the docker client the terminal it needs"
  run script -qec "$DOCKER_CLI run -t --rm --runtime runx --network none $IMAGE sh -c 'tty; exit 5'" /dev/null
  [ "$status" -eq 5 ]
  [[ "$output" == *"/dev/pts/"* ]]
  cid="$(d run -d --runtime runx --network none "$IMAGE" sh -c 'while :; do sleep 0.2; done')"
  run script -qec "$DOCKER_CLI exec -t $cid sh -c 'tty; exit 6'" /dev/null
  [ "$status" -eq 6 ]
  [[ "$output" == *"/dev/pts/"* ]]
  d rm -f "$cid"
}

# Docker's default exec root is /var/run/docker, so dockerd runs runtimes with
# --root /var/run/docker/runtime-runc/moby and 64-hex-digit ids: runx's sockets in
# <root>/<id>/ are then 109-110 bytes long, past the 107 a unix socket path can hold.
# This runs runx as dockerd would there (a root path of the same length, not the real
# one), without dockerd.
@test "runx runs under a --root as long as Docker's default (/var/run/docker/runtime-runc/moby) with a 64-hex id" {
  local dflt=/var/run/docker/runtime-runc/moby root bundle
  root="$EXE/L"
  while [ "${#root}" -lt "${#dflt}" ]; do root="${root}x"; done
  [ "${#root}" -eq "${#dflt}" ]
  bundle="$BATS_TEST_TMPDIR/bundle"
  node "$REPO/test/helpers/make-bundle.mjs" "$bundle" -- sh -c 'echo hi; exit 3'
  run --separate-stderr "$RUNX_BIN" --root "$root" run --bundle "$bundle" "$(printf '%064x' 48879)"
  "$RUNX_BIN" --root "$root" delete --force "$(printf '%064x' 48879)" >/dev/null 2>&1 || true
  rm -rf "$root"
  echo "stderr: $stderr" >&2
  [ "$status" -eq 3 ]
  [ "$output" = hi ]
}
