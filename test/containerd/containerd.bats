#!/usr/bin/env bats
# Real containerd (Debian's 1.6) with runx as the runc binary of its runc shim
# (io.containerd.runc.v2), on a private root, state and socket, with a busybox OCI
# image built locally (no registry).

bats_require_minimum_version 1.5.0
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
source "$REPO/test/runx-bin.bash"
IMAGE=docker.io/library/runx-busybox:latest

setup_file() {
  command -v containerd >/dev/null || skip "containerd is not installed (scripts/setup.sh installs it)"
  export CTD="$BATS_FILE_TMPDIR/ctd"
  mkdir -p "$CTD"
  cat >"$CTD/config.toml" <<TOML
version = 2
root = "$CTD/root"
state = "$CTD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD/containerd.sock"
TOML
  containerd --config "$CTD/config.toml" >"$CTD/log" 2>&1 &
  echo $! >"$CTD/pid"
  for _ in $(seq 100); do [ -S "$CTD/containerd.sock" ] && break; sleep 0.1; done
  node "$REPO/test/helpers/make-oci-image.mjs" "$CTD/image.tar" "$IMAGE"
  ctr --address "$CTD/containerd.sock" -n runx image import "$CTD/image.tar" >/dev/null
}

teardown_file() {
  [ -f "$CTD/pid" ] || return 0
  for t in $(c task ls -q 2>/dev/null); do c task kill -s KILL "$t" 2>/dev/null || true; done
  sleep 1
  for t in $(c task ls -q 2>/dev/null); do c task delete "$t" 2>/dev/null || true; done
  for t in $(c container ls -q 2>/dev/null); do c container delete "$t" 2>/dev/null || true; done
  kill "$(cat "$CTD/pid")" 2>/dev/null || true
  # the shims this containerd started name its socket on their command line
  for p in $(pgrep -f "containerd-shim-runc-v2 .*$CTD" || true); do kill "$p" 2>/dev/null || true; done
}

c() {
  ctr --address "$CTD/containerd.sock" -n runx "$@"
}

wait_task() { # id status
  for _ in $(seq 100); do
    [ "$(c task ls | awk -v t="$1" '$1 == t { print $3 }')" = "$2" ] && return 0
    sleep 0.1
  done
  c task ls >&2
  return 1
}

@test "ctr run: output and exit code come through the runc shim" {
  run --separate-stderr c run --rm --runc-binary "$RUNX_BIN" "$IMAGE" r1 sh -c 'echo hello from a VM; echo to-stderr >&2; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = "hello from a VM" ]
  [ -z "$(c container ls -q | grep -x r1 || true)" ]
}

@test "ctr task kill, ps, pause and resume on a detached container" {
  c run -d --runc-binary "$RUNX_BIN" "$IMAGE" r2 sh -c 'trap "exit 9" TERM; while :; do sleep 0.1; done' >/dev/null
  wait_task r2 RUNNING
  run c task ps r2
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 2 ]
  c task pause r2
  wait_task r2 PAUSED
  c task resume r2
  wait_task r2 RUNNING
  c task kill -s TERM r2
  wait_task r2 STOPPED
  run c task delete r2
  [[ "$output" == *"exit with non-zero exit code 9"* ]]
  c container delete r2
}

@test "ctr task checkpoint makes a checkpoint image of a running container" {
  c run -d --runc-binary "$RUNX_BIN" "$IMAGE" r3 sh -c 'while :; do sleep 0.1; done' >/dev/null
  wait_task r3 RUNNING
  c task checkpoint r3
  run c image ls -q
  [[ "$output" == *"containerd.io/checkpoint/r3"* ]]
  wait_task r3 RUNNING
  c task kill -s KILL r3
  wait_task r3 STOPPED
  c task delete r3 || true
  c container delete r3
}

@test "ctr task exec: output, stdin and exit code of a process started in a running container" {
  c run -d --runc-binary "$RUNX_BIN" "$IMAGE" r4 sh -c 'echo init > /tmp/mark; while :; do sleep 0.1; done' >/dev/null
  wait_task r4 RUNNING
  run --separate-stderr c task exec --exec-id e1 r4 sh -c 'cat /tmp/mark; echo err >&2; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = init ]
  [ "$stderr" = err ]
  run c task exec --exec-id e2 r4 sh -c 'read x; echo got:$x' <<<"via-stdin"
  [ "$status" -eq 0 ]
  [ "$output" = "got:via-stdin" ]
  c task kill -s KILL r4
  wait_task r4 STOPPED
  c task delete r4 || true
  c container delete r4
}

@test "ctr run -t and ctr task exec -t: a terminal through the console socket" {
  command -v script >/dev/null || skip "script(1) from util-linux gives ctr the terminal it needs"
  # ctr -t wants its own stdin to be a terminal: script(1) gives it one.
  run script -qec "ctr --address $CTD/containerd.sock -n runx run -t --rm --runc-binary $RUNX_BIN $IMAGE r5 sh -c 'tty; exit 6'" /dev/null
  [ "$status" -eq 6 ]
  [[ "$output" == *"/dev/pts/"* ]]
  c run -d --runc-binary "$RUNX_BIN" "$IMAGE" r6 sh -c 'while :; do sleep 0.1; done' >/dev/null
  wait_task r6 RUNNING
  run script -qec "ctr --address $CTD/containerd.sock -n runx task exec -t --exec-id t1 r6 sh -c 'tty; exit 2'" /dev/null
  [ "$status" -eq 2 ]
  [[ "$output" == *"/dev/pts/"* ]]
  c task kill -s KILL r6
  wait_task r6 STOPPED
  c task delete r6 || true
  c container delete r6
}

# n_of ID: "START COUNT" as the task's process last wrote it to its bind
n_of() {
  c task exec --exec-id "n$RANDOM" "$1" cat /data/n
}

@test "ctr: a task with a read-write bind checkpointed (containers checkpoint --task) and restored (restore --live) goes on from its memory and its bind; the host gets the bind's writes" {
  vol="$BATS_TEST_TMPDIR/vol"
  mkdir -p "$vol"
  echo before >"$vol/seed"
  # START is drawn once and lives only in the process's memory: a restored task keeps it,
  # a task started afresh would draw another. /data/n is replaced by rename, so a kill
  # never leaves it half-written.
  c run -d --runc-binary "$RUNX_BIN" --mount "type=bind,src=$vol,dst=/data,options=rbind:rw" "$IMAGE" r7 \
    sh -c 'cat /data/seed >/data/seen; s=$RANDOM$RANDOM; i=0; while :; do i=$((i+1)); echo "$s $i" >/data/n.new; mv /data/n.new /data/n; sleep 0.1; done' >/dev/null
  wait_task r7 RUNNING
  for _ in $(seq 100); do [ -n "$(n_of r7 2>/dev/null)" ] && break; sleep 0.1; done
  read -r start0 i0 <<<"$(n_of r7)"
  [ -n "$start0" ]
  c containers checkpoint --task r7 checkpoint/r7:1
  wait_task r7 RUNNING
  c task kill -s KILL r7
  wait_task r7 STOPPED
  c task delete r7 || true
  c container delete r7
  # the first task's end wrote its bind back
  read -r s1 _ <"$vol/n"
  [ "$s1" = "$start0" ]
  [ "$(cat "$vol/seen")" = before ]

  c containers restore --live r7 checkpoint/r7:1
  wait_task r7 RUNNING
  read -r start2 i2 <<<"$(n_of r7)"
  [ "$start2" = "$start0" ]
  [ "$i2" -ge "$i0" ]
  sleep 1
  c task kill -s KILL r7
  wait_task r7 STOPPED
  c task delete r7 || true
  c container delete r7
  c image rm checkpoint/r7:1 >/dev/null
  read -r s3 i3 <"$vol/n"
  [ "$s3" = "$start0" ]
  [ "$i3" -gt "$i2" ]
}
