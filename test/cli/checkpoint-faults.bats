#!/usr/bin/env bats
# Faults under load (issue 17, item 4): the keeper or QEMU killed while a checkpoint
# is saving the VM, the image's disk filling up, and many containers back to back.
# Each fault ends in one line on stderr, no half image, and a container that is either
# still running untouched or cleanly stopped and deletable without leftovers.

load helpers

COUNTER='i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done'

eval "helpers_$(declare -f teardown)"

teardown() {
  # A writer held stopped by stall_writer must not stay stopped past the test.
  # shellcheck disable=SC2086
  [ -n "${STALLED:-}" ] && kill -CONT $STALLED 2>/dev/null
  helpers_teardown
  if [ -f "$BATS_TEST_TMPDIR/cgroups" ]; then
    sort -u "$BATS_TEST_TMPDIR/cgroups" | while read -r d; do [ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true; done
  fi
  [ -n "${SMALL:-}" ] && mountpoint -q "$SMALL" && umount "$SMALL"
  true
}

start_counter() { # id out-file
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/$1.pid" "$1" >"$2" 2>&1 </dev/null
  runx start "$1"
}

# Checks that the file holds 1..N with no gap and no repeat.
consecutive() {
  awk 'NR != $0 { print "line " NR " is \"" $0 "\""; bad = 1; exit } END { if (NR < 5) { print "only " NR " lines"; bad = 1 } exit bad }' "$1"
}

tree_of() { # pid: it and its descendants (one ps: the scan below must be quick)
  ps -e -o pid=,ppid= | awk -v r="$1" '{ kids[$2] = kids[$2] " " $1 }
    END { n = 1; q[1] = r; for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], k, " "); for (j = 1; j <= m; j++) q[++n] = k[j] } }'
}

# stall_writer KEEPER-PID IMAGE-DIR: waits (up to ~60 s) for the processes of the
# keeper's tree that hold the image's vm.state open, and stops them (SIGSTOP), as a
# disk that stalls would: the save is then held in progress for as long as the test
# needs. Sets STALLED to their pids (teardown continues them).
stall_writer() {
  local i p dirs
  for ((i = 0; i < 600; i++)); do
    dirs=()
    for p in $(tree_of "$1"); do dirs+=("/proc/$p/fd"); done
    p="$(find "${dirs[@]}" -lname "$2/.runx-checkpoint-*/vm.state" -printf '%h\n' 2>/dev/null | cut -d/ -f3 | sort -u)"
    if [ -n "$p" ]; then
      # shellcheck disable=SC2086 # one pid a word
      kill -STOP $p
      STALLED="$(echo $p)"
      return 0
    fi
    sleep 0.01
  done
  echo "no process of keeper $1 wrote $2/.runx-checkpoint-*/vm.state" >&2
  return 1
}

# nothing_at IMAGE-DIR: no manifest, no staging directory, no file at all.
nothing_at() {
  [ ! -e "$1/manifest.json" ]
  ! compgen -G "$1/.runx-checkpoint-*" >/dev/null || false
  [ -z "$(ls -A "$1" 2>/dev/null)" ]
}

# A stopped container that `delete -f` removes whole: no keeper, no QEMU, no state dir.
deletes_clean() { # id keeper-pid qemu-pid
  run runx state "$1"
  [ "$status" -eq 0 ]
  [ "$(state_field "$1" status)" = stopped ]
  runx delete -f "$1"
  wait_gone "$2"
  wait_gone "$3"
  [ ! -e "$ROOT/$1" ]
  ! pgrep -f -- "$ROOT" >/dev/null || false
}

# kill_during_checkpoint WHICH: WHICH (keeper or qemu) is killed -9 while the save
# of a counter's VM state is held in progress.
kill_during_checkpoint() {
  make_bundle -- sh -c "$COUNTER"
  start_counter c1 "$BATS_TEST_TMPDIR/out1"
  wait_status c1 running
  sleep 0.5
  keeper="$(cat "$BATS_TEST_TMPDIR/c1.pid")"
  qemu="$(record_field c1 qemuPid)"
  [ "$qemu" -gt 0 ]
  IMG="$BATS_TEST_TMPDIR/img"
  runx checkpoint --image-path "$IMG" c1 >"$BATS_TEST_TMPDIR/ck.out" 2>"$BATS_TEST_TMPDIR/ck.err" &
  ck=$!
  stall_writer "$keeper" "$IMG"
  if [ "$1" = keeper ]; then victim="$keeper"; else victim="$qemu"; fi
  kill -9 "$victim"
  # The stalled disk comes back: what the save still writes goes to a dead VM's pipe.
  # shellcheck disable=SC2086
  kill -CONT $STALLED 2>/dev/null || true
  wait_gone "$victim"
  rc=0
  wait "$ck" || rc=$?
  echo "checkpoint: rc=$rc stderr: $(cat "$BATS_TEST_TMPDIR/ck.err")"
  [ "$rc" -ne 0 ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/ck.err")" -eq 1 ]
  [ ! -s "$BATS_TEST_TMPDIR/ck.out" ]
  nothing_at "$IMG"
  deletes_clean c1 "$keeper" "$qemu"
}

@test "the keeper killed -9 while a checkpoint saves the VM: one line, no half image, the container deletes clean" {
  kill_during_checkpoint keeper
  grep -q "keeper" "$BATS_TEST_TMPDIR/ck.err"
  grep -q "died" "$BATS_TEST_TMPDIR/ck.err"
}

@test "QEMU killed -9 while a checkpoint saves the VM: one line, no half image, the container deletes clean" {
  kill_during_checkpoint qemu
  grep -q "QEMU" "$BATS_TEST_TMPDIR/ck.err"
}

size_of() { stat -c %s "$@" | awk '{ s += $1 } END { print s }'; }
used_of() { du -B1 -s "$@" | awk '{ s += $1 } END { print s }'; }

# small_disk BYTES: SMALL becomes a tmpfs of (about) that size, empty.
small_disk() {
  SMALL="$BATS_TEST_TMPDIR/small"
  mkdir -p "$SMALL"
  mountpoint -q "$SMALL" && umount "$SMALL"
  mount -t tmpfs -o "size=$(( ($1 + 4095) / 4096 * 4096 ))" tmpfs "$SMALL"
}

@test "a disk that fills up during a checkpoint: ENOSPC in one line, the container runs on, nothing half-written" {
  make_bundle -- sh -c "$COUNTER"
  start_counter c1 "$BATS_TEST_TMPDIR/out1"
  wait_status c1 running
  # What each file of an image takes, from one taken where there is room.
  P="$BATS_TEST_TMPDIR/probe"
  runx checkpoint --leave-running --image-path "$P" c1
  # The CLI's files: the guest kernel, initramfs and config.json (named as the manifest lists them).
  guest="$(used_of $(ls -d "$P"/* | grep -v -e /vm.state -e /rootfs.ext4 -e /manifest.json))"
  state="$(used_of "$P/vm.state")"
  disk="$(used_of "$P/rootfs.ext4")"
  [ "$state" -gt 1048576 ]
  [ "$disk" -gt 1048576 ]
  # Full while copying the kernel (the CLI writes it), while saving the VM state and
  # while copying the root disk (the keeper writes those).
  for room in $((guest / 2)) $((guest + state / 2)) $((guest + state + disk / 2)); do
    small_disk "$room"
    before="$(wc -l <"$BATS_TEST_TMPDIR/out1")"
    run runx checkpoint --image-path "$SMALL/img" c1
    echo "room $room: status $status: $output"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"no space left on device (ENOSPC)"* ]]
    # Resumed, not lost: running, and counting on.
    [ "$(state_field c1 status)" = running ]
    for _ in $(seq 100); do [ "$(wc -l <"$BATS_TEST_TMPDIR/out1")" -gt $((before + 5)) ] && break; sleep 0.1; done
    [ "$(wc -l <"$BATS_TEST_TMPDIR/out1")" -gt $((before + 5)) ]
    nothing_at "$SMALL/img"
    # Nothing half-written, not even a deleted file still held open.
    [ "$(df --output=used -B1 "$SMALL" | tail -n 1 | tr -d ' ')" -le 4096 ]
  done
  consecutive "$BATS_TEST_TMPDIR/out1"
}

cgroup_dirs() { # id: the container's host cgroup directories from its record
  node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).cgroup;
    if (c) for (const d of Object.values(c.dirs)) console.log(d)' "$ROOT/$1/state.json"
}

ticks_now() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", $1 * hz }' /proc/uptime; }

# netns_gone net:[N] TICKS: no process is in the namespace that was ours until TICKS
# (since boot). The kernel gives a freed namespace's number to the next one made, so a
# process in a namespace of that number that started later is in someone else's.
netns_gone() {
  local p started
  for p in $(find /proc/[0-9]*/ns/net -lname "$1" 2>/dev/null | cut -d/ -f3); do
    started="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $20 }')"
    [ -n "$started" ] && [ "$started" -le "$2" ] || continue
    echo "$1 is still held by $p: $(tr '\0' ' ' <"/proc/$p/cmdline")" >&2
    return 1
  done
}

@test "30 containers back to back leave nothing behind: no process, tap, mount, namespace, cgroup or file" {
  # A host cgroup for each (the same path: one container at a time), for delete to remove.
  make_bundle --set linux.cgroupsPath="/runx-bats-faults-${ROOT##*.}" -- true
  host_ns="$(readlink /proc/self/ns/net)"
  : >"$BATS_TEST_TMPDIR/cgroups"
  for i in $(seq 30); do
    timeout 120 "$RUNX_BIN" --root "$ROOT" create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" "b$i" </dev/null >/dev/null 2>&1
    keeper="$(cat "$BATS_TEST_TMPDIR/pid")"
    qemu="$(record_field "b$i" qemuPid)"
    [ "$qemu" -gt 0 ]
    # The container's network namespace is one runx made for it.
    ns="$(readlink "/proc/$keeper/ns/net")"
    [ "$ns" != "$host_ns" ]
    cgroup_dirs "b$i" >>"$BATS_TEST_TMPDIR/cgroups"
    runx start "b$i"
    wait_status "b$i" stopped 600
    timeout 60 "$RUNX_BIN" --root "$ROOT" delete "b$i"
    wait_gone "$keeper"
    wait_gone "$qemu"
    # Gone with them: no process is left in it (runx never mounts it: it has no file).
    netns_gone "$ns" "$(ticks_now)"
  done
  [ -z "$(runx list -q)" ]
  ! pgrep -f -- "$ROOT" || false
  # Taps live in the containers' namespaces; none was ever made in ours.
  ! ip link show tap0_runx 2>/dev/null || false
  ! awk -v r="$ROOT" 'index($5, r) == 1' /proc/self/mountinfo | grep -q . || false
  [ "$(wc -l <"$BATS_TEST_TMPDIR/cgroups")" -gt 0 ]
  while read -r d; do [ ! -e "$d" ]; done <"$BATS_TEST_TMPDIR/cgroups"
  # Only the (empty) lock directory stays under --root.
  [ -z "$(find "$ROOT" -mindepth 1 ! -path "$ROOT/@locks")" ]
}
