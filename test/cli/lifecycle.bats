#!/usr/bin/env bats
# The OCI lifecycle through the built binary against real VMs (TCG here):
# create, start, state, kill, delete, run, exit statuses and the pid file.

load helpers

@test "run: stdout and stderr reach the caller and the exit code is the container's" {
  make_bundle -- sh -c 'echo out-line; echo err-line >&2; exit 3'
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 3 ]
  [ "$output" = "out-line" ]
  [ "$stderr" = "err-line" ]
  # run deletes the container afterwards unless --keep
  [ -z "$(runx list -q)" ]
}

@test "run --keep leaves a stopped container that delete removes" {
  make_bundle -- true
  run runx run --keep --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "$(state_field c1 status)" = stopped ]
  [ "$(state_field c1 pid)" = 0 ]
  runx delete c1
  [ ! -d "$ROOT/c1" ]
}

@test "create, state, start, kill, delete: statuses follow the OCI lifecycle" {
  make_bundle -- sh -c 'echo started; exec sleep 1000'
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  [ "$(state_field c1 status)" = created ]
  [ "$(state_field c1 id)" = c1 ]
  [ "$(state_field c1 bundle)" = "$BUNDLE" ]
  [ "$(state_field c1 rootfs)" = "$BUNDLE/rootfs" ]
  pid="$(cat "$BATS_TEST_TMPDIR/pid")"
  [ "$(state_field c1 pid)" = "$pid" ]
  kill -0 "$pid"
  # the process does not run before start
  sleep 0.5
  [ ! -s "$BATS_TEST_TMPDIR/out" ]
  runx start c1
  [ "$(state_field c1 status)" = running ]
  for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/out" ] && break; sleep 0.1; done
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = started ]
  runx kill c1 KILL
  wait_status c1 stopped
  wait_gone "$pid"
  runx delete c1
  run runx state c1
  [ "$status" -eq 1 ]
  [[ "$output" == *'container "c1" does not exist'* ]]
}

@test "the pid file holds the keeper's pid with no trailing newline" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >/dev/null 2>&1
  [ "$(wc -c <"$BATS_TEST_TMPDIR/pid")" -eq "$(printf %s "$(cat "$BATS_TEST_TMPDIR/pid")" | wc -c)" ]
  [[ "$(cat "$BATS_TEST_TMPDIR/pid")" =~ ^[0-9]+$ ]]
  grep -q 'keeper' "/proc/$(cat "$BATS_TEST_TMPDIR/pid")/cmdline"
}

@test "exit status of a container killed by a signal is 128+N" {
  # (the process is PID 1 of its PID namespace, which ignores its own SIGKILL, as
  # under runc: the signal comes from outside)
  make_bundle -- sleep 1000
  (for _ in $(seq 100); do [ "$(state_field c1 status 2>/dev/null)" = running ] && break; sleep 0.1; done; runx kill c1 KILL) &
  run runx run --bundle "$BUNDLE" c1
  wait
  [ "$status" -eq 137 ]
}

@test "kill accepts names and numbers, and kill --all reaches every process" {
  make_bundle -- sh -c 'trap "echo got-usr1" USR1; while :; do sleep 0.1; done'
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  sleep 0.5
  # One form at a time, each seen before the next: standard signals do not queue, so
  # two sent while the shell waits for its sleep would arrive as one.
  local n=0 sig
  for sig in USR1 SIGUSR1 10; do
    runx kill c1 "$sig"
    n=$((n + 1))
    for _ in $(seq 100); do [ "$(grep -c got-usr1 "$BATS_TEST_TMPDIR/out")" -ge "$n" ] && break; sleep 0.1; done
    [ "$(grep -c got-usr1 "$BATS_TEST_TMPDIR/out")" -eq "$n" ]
  done
  runx kill --all c1 9
  wait_status c1 stopped
  run runx kill c1 TERM
  [ "$status" -eq 1 ]
  [[ "$output" == *"container not running"* ]]
  run runx kill c1 NOSUCHSIG
  [ "$status" -eq 1 ]
  [[ "$output" == *'unknown signal "NOSUCHSIG"'* ]]
}

@test "start: unknown id, twice, and after stop are errors with no effect" {
  make_bundle -- sleep 1000
  run runx start nope
  [ "$status" -eq 1 ]
  [[ "$output" == *'container "nope" does not exist'* ]]
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx start c1
  run runx start c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"already running"* ]]
  [ "$(state_field c1 status)" = running ]
  runx kill c1 KILL
  wait_status c1 stopped
  run runx start c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"has stopped"* ]]
}

@test "create: a taken id and a missing id are errors that change nothing" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  run runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"container with id exists: c1"* ]]
  [ "$(state_field c1 status)" = created ]
  run runx create --bundle "$BUNDLE"
  [ "$status" -eq 1 ]
  [ "$(runx list -q)" = c1 ]
}

@test "delete: a running container needs --force; --force ends keeper and QEMU" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >/dev/null 2>&1
  runx start c1
  qemu="$(record_field c1 qemuPid)"
  kill -0 "$qemu"
  run runx delete c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"that is not stopped: running"* ]]
  [ "$(state_field c1 status)" = running ]
  runx delete --force c1
  [ ! -d "$ROOT/c1" ]
  wait_gone "$(cat "$BATS_TEST_TMPDIR/pid")"
  wait_gone "$qemu"
  run runx delete nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"does not exist"* ]]
  runx delete --force nope
}

@test "a created container can be deleted without --force" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >/dev/null 2>&1
  runx delete c1
  [ ! -d "$ROOT/c1" ]
  wait_gone "$(cat "$BATS_TEST_TMPDIR/pid")"
}

@test "a keeper killed by SIGKILL takes its QEMU along and the state reads stopped" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >/dev/null 2>&1
  runx start c1
  qemu="$(record_field c1 qemuPid)"
  kill -9 "$(cat "$BATS_TEST_TMPDIR/pid")"
  wait_gone "$qemu"
  [ "$(state_field c1 status)" = stopped ]
  run runx kill c1 TERM
  [[ "$output" == *"container not running"* ]]
  runx delete c1
}

@test "signals sent to the keeper's pid reach the container" {
  make_bundle -- sh -c 'trap "echo got-term; exit 7" TERM; while :; do sleep 0.1; done'
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  sleep 0.5
  kill -TERM "$(cat "$BATS_TEST_TMPDIR/pid")"
  wait_status c1 stopped
  grep -q got-term "$BATS_TEST_TMPDIR/out"
  [ "$(record_field c1 exitStatus)" = 7 ]
}

@test "list: table, json and quiet formats" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  run runx list
  [[ "${lines[0]}" == ID*PID*STATUS*BUNDLE*CREATED*OWNER ]]
  [[ "${lines[1]}" == c1*created*"$BUNDLE"* ]]
  run runx list --format json
  [[ "$output" == '[{"ociVersion":'*'"id":"c1"'*'"status":"created"'* ]]
  [ "$(runx list -q)" = c1 ]
}

@test "pause stops the whole VM and resume continues it; state says so" {
  make_bundle -- sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done'
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  run runx pause c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"container not running"* ]]
  runx start c1
  sleep 0.5
  runx pause c1
  [ "$(state_field c1 status)" = paused ]
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  sleep 0.7
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -eq "$n" ]
  runx resume c1
  [ "$(state_field c1 status)" = running ]
  sleep 0.7
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ]
  run runx resume c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"not paused"* ]]
}

@test "ps --format json lists the container's host pids: keeper and QEMU" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >/dev/null 2>&1
  [ "$(runx ps --format json c1)" = "[$(cat "$BATS_TEST_TMPDIR/pid"),$(record_field c1 qemuPid)]" ]
}

@test "ps as a table lists the guest's processes: the container's and exec'd ones" {
  make_bundle -- sh -c 'exec sleep 1000'
  runx run -d --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx exec -d c1 sleep 999 </dev/null
  for _ in $(seq 50); do runx ps c1 | grep -q 'sleep 999' && break; sleep 0.1; done
  run runx ps c1
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "UID"*"PID"*"PPID"*"STAT"*"CMD" ]]
  [[ "$output" == *"sleep 1000"* ]]
  [[ "$output" == *"sleep 999"* ]]
  # only the container's: not the agent (guest PID 1), not kernel threads
  [ "${#lines[@]}" -eq 3 ]
}

@test "ps as a table lists every process, even more than one agent message holds (400 long command lines)" {
  # ~240 bytes per process: 400 of them are ~96 KiB, six times what one message holds.
  make_bundle -- sh -c 'p=$(printf "%0200d" 0); i=0; while [ $i -lt 400 ]; do sleep 1000 $p & i=$((i+1)); done; touch /tmp/ready; wait'
  runx run -d --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  for _ in $(seq 120); do runx exec c1 test -e /tmp/ready && break; sleep 0.5; done
  run --separate-stderr runx ps c1
  [ "$status" -eq 0 ]
  [ "$(grep -c 'sleep 1000 0000' <<<"$output")" -eq 400 ]
  # the container's shell and the header: nothing lost, nothing twice
  [ "${#lines[@]}" -eq 402 ]
}
