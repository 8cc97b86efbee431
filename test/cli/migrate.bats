#!/usr/bin/env bats
# Live migration between two runx hosts: on loopback, and between two network
# namespaces standing in for hosts. The source keeper stays the container's stand-in.

load helpers
load serve

COUNTER='i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done'

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  DEST="$(mktemp -d /tmp/runx-bats-dest.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  echo "t0ken-$RANDOM$RANDOM" >"$BATS_TEST_TMPDIR/token"
  chmod 600 "$BATS_TEST_TMPDIR/token" # (readable by others, it is warned about)
  NETNS=()
}

teardown() {
  # a test that stopped its serve (SIGSTOP) continues it first, or it would never end
  [ -n "${SERVE_PID:-}" ] && kill -CONT "$SERVE_PID" 2>/dev/null
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  [ -n "${HOME_SERVE_PID:-}" ] && kill "$HOME_SERVE_PID" 2>/dev/null && wait "$HOME_SERVE_PID" 2>/dev/null || true
  for r in "$ROOT" "$DEST"; do
    for id in $("$RUNX_BIN" --root "$r" list -q 2>/dev/null); do "$RUNX_BIN" --root "$r" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$ROOT" "$DEST"
  if [ -n "${CG:-}" ]; then
    for d in /sys/fs/cgroup"$CG" /sys/fs/cgroup/*"$CG"; do if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi; done
  fi
}

# serve_and_run SCRIPT [create flags...]: a destination serve on a free loopback port
# ($port), and c1 created with the flags and started here running `sh -c SCRIPT`, its
# output in $BATS_TEST_TMPDIR/out
serve_and_run() {
  local script="$1"; shift
  port="$(free_port)"
  start_serve "127.0.0.1:$port"
  make_bundle -- sh -c "$script"
  runx create --bundle "$BUNDLE" "$@" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
}

# runs_on_here: c1's output here still grows, with no line missing
runs_on_here() {
  local n
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  sleep 0.7
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ] || { echo "output stopped at $n lines" >&2; return 1; }
  consecutive "$BATS_TEST_TMPDIR/out"
}

consecutive() {
  awk 'NR != $0 { print "line " NR " is \"" $0 "\""; bad = 1; exit } END { if (NR < 5) { print "only " NR " lines"; bad = 1 } exit bad }' "$1"
}

@test "migrate on loopback: the container runs on, output continues, the source stands in" {
  serve_and_run "$COUNTER" --pid-file "$BATS_TEST_TMPDIR/pid"
  sleep 1
  run runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" --format json c1
  [ "$status" -eq 0 ]
  node -e 'const r=JSON.parse(process.argv[1]); if (r.dryRun||!(r.totalMs>0)||!(r.switchoverMs>=0)||!(r.qemu.ramBytes>0)||!(r.qemu.diskBytes>0)||typeof r.qemu.downtimeMs!=="number") process.exit(1)' "$output"
  [ "$("$RUNX_BIN" --root "$DEST" state c1 | grep -c '"status": "running"')" -eq 1 ]
  [ "$(state_field c1 status)" = running ]
  [[ "$(state_field c1 annotations)" == *"\"io.runx.migrated-to\":\"127.0.0.1:$port\""* ]]
  # the source's QEMU is gone; its keeper (the pid containerd knows) lives on
  kill -0 "$(cat "$BATS_TEST_TMPDIR/pid")"
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  sleep 1
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ]
  # signals go through the stand-in; the exit status comes back
  runx kill c1 KILL
  wait_status c1 stopped
  [ "$(record_field c1 exitStatus)" = 137 ]
  wait_gone "$(cat "$BATS_TEST_TMPDIR/pid")"
  consecutive "$BATS_TEST_TMPDIR/out"
}

@test "stdin written throughout a migration reaches the container once each, in order, up to its EOF" {
  port="$(free_port)"
  start_serve "127.0.0.1:$port"
  make_bundle -- sh -c 'while read -r l; do echo "got $l"; done; echo eof'
  mkfifo "$BATS_TEST_TMPDIR/in"
  # ~100 numbered lines a second until told to stop (at most 4000): some are always
  # on their way to the guest, in the keeper or in QEMU, when the VM stops to move.
  ( for i in $(seq 4000); do echo "$i"; echo "$i" >"$BATS_TEST_TMPDIR/last"; [ -e "$BATS_TEST_TMPDIR/stop" ] && break; sleep 0.01; done ) >"$BATS_TEST_TMPDIR/in" &
  WRITER=$!
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" <"$BATS_TEST_TMPDIR/in"
  runx start c1
  sleep 1
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  sleep 1
  touch "$BATS_TEST_TMPDIR/stop"
  wait "$WRITER"
  # the writer's end is the container's EOF, through the stand-in
  wait_status c1 stopped 300
  [ "$(record_field c1 exitStatus)" = 0 ]
  last="$(cat "$BATS_TEST_TMPDIR/last")"
  echo "last line written: $last; lines out: $(wc -l <"$BATS_TEST_TMPDIR/out")"
  awk -v last="$last" '
    /^got / { n++; if ($2 != n) { print "line " n " is \"" $0 "\""; bad = 1; exit } next }
    /^eof$/ { eof = 1; next }
    { print "unexpected: " $0; bad = 1; exit }
    END { if (!bad && (n != last || !eof)) { print "got " n " of " last " lines, eof " eof + 0; bad = 1 } exit bad }' "$BATS_TEST_TMPDIR/out"
}

@test "a migration that cannot happen leaves the container running untouched" {
  serve_and_run "$COUNTER"
  echo wrong >"$BATS_TEST_TMPDIR/wrong"
  run runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/wrong" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"unauthenticated"* ]]
  run runx migrate --to "127.0.0.1:$(free_port)" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$status" -eq 1 ]
  run runx migrate --dry-run --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$status" -eq 0 ]
  [[ "$output" == *"can take this container (dry run, nothing moved)"* ]]
  [ -z "$("$RUNX_BIN" --root "$DEST" list -q)" ]
  [ "$(state_field c1 status)" = running ]
  [ -z "$(state_field c1 annotations)" ] || [[ "$(state_field c1 annotations)" != *migrated-to* ]]
  runs_on_here
}

# dest_field ID FIELD: the destination's own record of ID
dest_field() {
  node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]] ?? "")' "$DEST/$1/state.json" "$2"
}

@test "the destination honours RUNX_BOOT_TIMEOUT_MS, and puts a migrated container's keeper and QEMU in its cgroupsPath" {
  [ "$(id -u)" = 0 ] || skip "needs root to make cgroups"
  CG="/runx-bats-mig-${ROOT##*.}"
  if [ -e /sys/fs/cgroup/cgroup.controllers ]; then procs="/sys/fs/cgroup$CG/cgroup.procs"; else procs="/sys/fs/cgroup/pids$CG/cgroup.procs"; fi
  port="$(free_port)"
  # A destination whose VMs may take 1 ms to come up cannot take this one.
  SERVE_WRAP="env RUNX_BOOT_TIMEOUT_MS=1" start_serve "127.0.0.1:$port"
  make_bundle --set linux.cgroupsPath="$CG" -- sh -c "$COUNTER"
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  run runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"did not answer within 0.001 s"* ]]
  [ "$(state_field c1 status)" = running ]
  [ -z "$("$RUNX_BIN" --root "$DEST" list -q)" ]
  kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
  port="$(free_port)"
  start_serve "127.0.0.1:$port"
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  dkeeper="$(dest_field c1 keeperPid)"
  dqemu="$(dest_qemu c1)"
  grep -qx "$dkeeper" "$procs"
  grep -qx "$dqemu" "$procs"
  # recorded, so that the destination's delete removes it
  [[ "$(dest_field c1 cgroup)" == *"$CG"* ]]
  runx kill c1 KILL
  wait_status c1 stopped
  wait_gone "$dqemu"
}

@test "serve refuses anonymous access; migrate refuses a container whose bind is a live 9p share" {
  run "$RUNX_BIN" --root "$DEST" serve --listen 127.0.0.1:0
  [ "$status" -eq 1 ]
  [[ "$output" == *"anonymous migration is refused"* ]]
  mkdir -p "$BATS_TEST_TMPDIR/shared"
  make_bundle --set mounts='[{"destination":"/data","type":"bind","source":"'"$BATS_TEST_TMPDIR/shared"'","options":["rbind"]}]' \
    --set annotations='{"io.runx.live-share":"*"}' -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx start c1
  run runx migrate --to 127.0.0.1:1 --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"cannot migrate container c1: bind mount /data (from "*"/shared) is a live host share"* ]]
  [ "$(state_field c1 status)" = running ]
}

@test "migrate between two hosts that are network namespaces" {
  a="runxA$$"; b="runxB$$"
  NETNS=("$a" "$b")
  ip netns add "$a"; ip netns add "$b"
  ip link add "va$$" netns "$a" type veth peer name "vb$$" netns "$b"
  ip -n "$a" addr add 10.231.0.1/24 dev "va$$"; ip -n "$a" link set "va$$" up; ip -n "$a" link set lo up
  ip -n "$b" addr add 10.231.0.2/24 dev "vb$$"; ip -n "$b" link set "vb$$" up; ip -n "$b" link set lo up
  SERVE_WRAP="ip netns exec $b" start_serve 10.231.0.2:7700
  make_bundle -- sh -c "$COUNTER"
  ip netns exec "$a" "$RUNX_BIN" --root "$ROOT" create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  sleep 1
  ip netns exec "$a" "$RUNX_BIN" --root "$ROOT" migrate --to 10.231.0.2:7700 --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$("$RUNX_BIN" --root "$DEST" state c1 | grep -c '"status": "running"')" -eq 1 ]
  # the destination's keeper and VM live in a new network namespace of the container's
  # own, as create there would make it for this config (no path): not host B's, whose
  # address the streams came in on
  qemu="$(node -e 'console.log(require(process.argv[1]).qemuPid)' "$DEST/c1/state.json")"
  keeper="$(node -e 'console.log(require(process.argv[1]).keeperPid)' "$DEST/c1/state.json")"
  ns="$(readlink "/proc/$qemu/ns/net")"
  [ -n "$ns" ]
  [ "$ns" != "$(ip netns exec "$b" readlink /proc/self/ns/net)" ]
  [ "$ns" != "$(readlink /proc/self/ns/net)" ]
  [ "$(readlink "/proc/$keeper/ns/net")" = "$ns" ]
  sleep 1
  runx kill c1 KILL
  wait_status c1 stopped
  consecutive "$BATS_TEST_TMPDIR/out"
}

@test "a migration cancelled before switch-over (--cancel, or SIGINT) changes nothing" {
  serve_and_run "$COUNTER"
  # 1 MiB/s makes the memory phase last ~20 s: time to cancel it
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" --bandwidth 1 c1 >"$BATS_TEST_TMPDIR/m1" 2>&1 &
  m=$!
  sleep 2
  runx migrate --cancel c1
  st=0; wait "$m" || st=$?
  [ "$st" -eq 1 ]
  grep -q "failed before switch-over (the container runs on here): migration cancelled" "$BATS_TEST_TMPDIR/m1"
  [ "$(state_field c1 status)" = running ]
  [ -z "$("$RUNX_BIN" --root "$DEST" list -q)" ]
  # the binary itself in the background, so the signal reaches runx, not a subshell
  "$RUNX_BIN" --root "$ROOT" migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" --bandwidth 1 c1 >"$BATS_TEST_TMPDIR/m2" 2>&1 &
  m=$!
  sleep 2
  kill -INT "$m"
  st=0; wait "$m" || st=$?
  [ "$st" -eq 1 ]
  grep -q "cancel" "$BATS_TEST_TMPDIR/m2"
  [ "$(state_field c1 status)" = running ]
  [ -z "$("$RUNX_BIN" --root "$DEST" list -q)" ]
  runs_on_here
}

@test "a cancel that comes while the destination prepares is kept: the migration fails and changes nothing" {
  serve_and_run "$COUNTER"
  # The destination's serve stopped (SIGSTOP): Prepare cannot complete until it continues.
  kill -STOP "$SERVE_PID"
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1 >"$BATS_TEST_TMPDIR/m1" 2>&1 &
  m=$!
  # The keeper takes a cancel once the migration has begun (before Prepare); at most 10 s.
  cancelled=
  for _ in $(seq 100); do
    if runx migrate --cancel c1 2>"$BATS_TEST_TMPDIR/cancel.err"; then cancelled=1; break; fi
    sleep 0.1
  done
  kill -CONT "$SERVE_PID"
  [ -n "$cancelled" ] || { cat "$BATS_TEST_TMPDIR/cancel.err" >&2; false; }
  st=0; wait "$m" || st=$?
  cat "$BATS_TEST_TMPDIR/m1" >&2
  [ "$st" -eq 1 ]
  grep -q "failed before switch-over (the container runs on here): migration cancelled" "$BATS_TEST_TMPDIR/m1"
  [ "$(state_field c1 status)" = running ]
  dest_clean c1
  runs_on_here
  # with no migration under way, a cancel is refused in one line
  run -1 runx migrate --cancel c1
  [ "$output" = "runx: no migration of the container is in progress" ] || { echo "$output" >&2; false; }
}

# dest_qemu ID: the destination VM's QEMU pid, once its keeper has started it (at most 20 s)
dest_qemu() {
  local q
  for _ in $(seq 200); do
    q="$(node -e 'try { console.log(require(process.argv[1]).qemuPid ?? "") } catch { console.log("") }' "$DEST/$1/state.json" 2>/dev/null)"
    [ -n "$q" ] && echo "$q" && return 0
    sleep 0.1
  done
  return 1
}

# dest_clean ID: until the destination holds nothing of it (at most 20 s)
dest_clean() {
  for _ in $(seq 200); do [ ! -e "$DEST/$1" ] && return 0; sleep 0.1; done
  ls -la "$DEST/$1" >&2
  return 1
}

@test "the destination dying during the transfer (its QEMU, then its serve) leaves the source running and the destination clean" {
  serve_and_run "$COUNTER"
  # 1 MiB/s makes the memory phase last ~20 s: the destination dies in it
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" --bandwidth 1 c1 >"$BATS_TEST_TMPDIR/m1" 2>&1 &
  m=$!
  q="$(dest_qemu c1)"
  sleep 1
  kill -9 "$q"
  st=0; wait "$m" || st=$?
  [ "$st" -eq 1 ]
  grep -q "failed before switch-over (the container runs on here)" "$BATS_TEST_TMPDIR/m1"
  [ "$(state_field c1 status)" = running ]
  dest_clean c1

  # the whole service goes: its keeper, whose stdin is the service's pipe, ends the
  # VM it waited with and removes its state
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" --bandwidth 1 c1 >"$BATS_TEST_TMPDIR/m2" 2>&1 &
  m=$!
  q="$(dest_qemu c1)"
  sleep 1
  kill -9 "$SERVE_PID"
  wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=
  st=0; wait "$m" || st=$?
  [ "$st" -eq 1 ]
  grep -q "failed before switch-over (the container runs on here)" "$BATS_TEST_TMPDIR/m2"
  [ "$(state_field c1 status)" = running ]
  dest_clean c1
  wait_gone "$q"
  [ -z "$(state_field c1 annotations)" ] || [[ "$(state_field c1 annotations)" != *migrated-to* ]]
  runs_on_here
}

@test "a container comes back to the host whose stand-in holds its id: the stand-in runs it again" {
  port="$(free_port)"
  start_serve "127.0.0.1:$port"
  # the source host serves too, from the same --root as its containers
  home="$(free_port)"
  "$RUNX_BIN" --root "$ROOT" serve --listen "127.0.0.1:$home" --token-file "$BATS_TEST_TMPDIR/token" 2>"$BATS_TEST_TMPDIR/home.err" &
  HOME_SERVE_PID=$!
  for _ in $(seq 100); do grep -q listening "$BATS_TEST_TMPDIR/home.err" 2>/dev/null && break; sleep 0.1; done
  make_bundle -- sh -c "$COUNTER"
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  sleep 1
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  sleep 1
  run "$RUNX_BIN" --root "$DEST" migrate --to "127.0.0.1:$home" --token-file "$BATS_TEST_TMPDIR/token" --format json c1
  echo "$output"
  [ "$status" -eq 0 ]
  node -e 'if (!JSON.parse(process.argv[1]).returned) process.exit(1)' "$output"
  [ -z "$("$RUNX_BIN" --root "$DEST" list -q)" ]
  [ "$(state_field c1 status)" = running ]
  [[ "$(state_field c1 annotations)" != *migrated-to* ]]
  [ "$(record_field c1 keeperPid)" = "$(cat "$BATS_TEST_TMPDIR/pid")" ]
  kill -0 "$(record_field c1 qemuPid)"
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  sleep 1
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ]
  # it can leave again, and signals reach it directly
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$("$RUNX_BIN" --root "$DEST" state c1 | grep -c '"status": "running"')" -eq 1 ]
  sleep 0.5
  runx kill c1 KILL
  wait_status c1 stopped
  [ "$(record_field c1 exitStatus)" = 137 ]
  consecutive "$BATS_TEST_TMPDIR/out"
}

# Rewrites 32 MiB of non-zero memory (dd's buffer, from a page-cached file) over and
# over: faster than 8 MiB/s sends it (zeros would not do: QEMU sends zero pages as
# markers), while a counter shows the container's progress.
DIRTIER='yes abcdefghijklmnop | head -c 33554432 >/tmp/src; while :; do dd if=/tmp/src of=/dev/null bs=32M 2>/dev/null; done & i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done'

@test "migration under memory-dirtying load converges (auto-converge throttles the guest)" {
  serve_and_run "$DIRTIER"
  # the counter starts once the file is written and the dirtier runs (at most 60 s)
  for _ in $(seq 600); do [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -ge 5 ] && break; sleep 0.1; done
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -ge 5 ]
  # bounded: SIGINT cancels the migration (and the container runs on here)
  run timeout -s INT 300 "$RUNX_BIN" --root "$ROOT" migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" \
    --bandwidth 8 --downtime-limit 300 --auto-converge --format json c1
  echo "$output"
  [ "$status" -eq 0 ]
  # QEMU had to slow the guest down, over several pre-copy rounds
  node -e 'const q=JSON.parse(process.argv[1]).qemu; if (!(q.cpuThrottlePercent>0)||!(q.dirtySyncCount>1)||!(q.ramBytes>0)) process.exit(1)' "$output"
  [ "$("$RUNX_BIN" --root "$DEST" state c1 | grep -c '"status": "running"')" -eq 1 ]
  [ "$(state_field c1 status)" = running ]
  [[ "$(state_field c1 annotations)" == *"\"io.runx.migrated-to\":\"127.0.0.1:$port\""* ]]
  # unthrottled at the destination: the output goes on (within 30 s: the guest's dirtier
  # keeps its one vCPU busy under TCG, and the lines come through the stand-in)
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  for _ in $(seq 300); do [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ] && break; sleep 0.1; done
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ] || { "$RUNX_BIN" --root "$DEST" state c1; tail -n 20 "$DEST/c1/console.log"; false; }
  # every page the guest wrote arrived: a lost one shows as a kernel complaint about its
  # own memory (QEMU 7.2's TCG dirty-bitmap fault, qemu-version.ts TCG_RAM_PAD_KIB)
  sleep 2
  ! grep -E 'BUG:|Oops|Kernel panic|general protection|Fatal exception' "$DEST/c1/console.log"
  runx kill c1 KILL
  wait_status c1 stopped
  consecutive "$BATS_TEST_TMPDIR/out"
}
