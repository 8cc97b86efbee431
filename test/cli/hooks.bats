#!/usr/bin/env bats
# runtime-spec hooks: order, the state JSON on stdin with the right status, a failing
# prestart fails create, a failing poststart/poststop only warns; startContainer hooks
# run in the container (in the guest), the others on the host.

load helpers

# hook KIND: a hook that appends "KIND <status from its stdin> <$X>" to $LOG
hook() {
  printf '{"path":"%s","args":["record-hook","%s","%s"],"env":["X=%s-env"]}' "$BATS_TEST_TMPDIR/record-hook" "$1" "$LOG" "$1"
}

write_record_hook() {
  cat >"$BATS_TEST_TMPDIR/record-hook" <<'SH'
#!/bin/sh
read -r state
status=$(printf '%s' "$state" | sed -E 's/.*"status":"([a-z]+)".*/\1/')
echo "$1 $status $X" >>"$2"
SH
  chmod +x "$BATS_TEST_TMPDIR/record-hook"
}

# A startContainer hook runs in the container (in the guest): it records to a file
# there, which the container's process prints.
GUEST_HOOK='{"path":"/bin/sh","args":["sh","-c","read -r s; st=$(echo \"$s\" | sed -E \"s/.*\\\"status\\\":\\\"([a-z]+)\\\".*/\\\\1/\"); echo startContainer $st $X $(cat /proc/1/cmdline | tr \"\\\\0\" \" \") > /tmp/start-hook"],"env":["X=startContainer-env","PATH=/bin"]}'

@test "hooks run in lifecycle order with the state on stdin; startContainer's in the container" {
  LOG="$BATS_TEST_TMPDIR/hooks.log"
  write_record_hook
  make_bundle --set hooks="{\"prestart\":[$(hook prestart)],\"createRuntime\":[$(hook createRuntime)],\"createContainer\":[$(hook createContainer)],\"startContainer\":[$GUEST_HOOK],\"poststart\":[$(hook poststart)],\"poststop\":[$(hook poststop)]}" -- cat /tmp/start-hook
  run runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  # ran in the container's pid namespace, before its process was exec'd (PID 1 there
  # is still the prepared process, not yet cat)
  [[ "$output" == "startContainer created startContainer-env "* ]]
  [[ "$output" != *"cat /tmp/start-hook"* ]]
  run cat "$LOG"
  [ "${lines[0]}" = "prestart creating prestart-env" ]
  [ "${lines[1]}" = "createRuntime creating createRuntime-env" ]
  [ "${lines[2]}" = "createContainer creating createContainer-env" ]
  [ "${lines[3]}" = "poststart running poststart-env" ]
  [ "${lines[4]}" = "poststop stopped poststop-env" ]
  [ "${#lines[@]}" -eq 5 ]
}

@test "a failing startContainer hook fails start, names the hook, and the process never runs" {
  make_bundle --set hooks='{"startContainer":[{"path":"/bin/sh","args":["sh","-c","echo no-start >&2; exit 4"]}]}' -- sh -c 'echo ran'
  runx create --bundle "$BUNDLE" c1 </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1
  run runx start c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"startContainer hook #0 (/bin/sh) failed: exit status 4: no-start"* ]]
  [ "$(state_field c1 status)" = created ]
  [ ! -s "$BATS_TEST_TMPDIR/out" ]
  # a path that exists only on the host is not found in the container
  make_bundle --set hooks="{\"startContainer\":[{\"path\":\"$BATS_TEST_TMPDIR/nowhere-in-guest\"}]}" -- true
  runx create --bundle "$BUNDLE" c2 </dev/null >/dev/null 2>&1
  run runx start c2
  [ "$status" -eq 1 ]
  [[ "$output" == *"startContainer hook #0"*"failed"* ]]
}

@test "a failing prestart hook fails create, names the hook, and leaves nothing" {
  make_bundle --set hooks='{"prestart":[{"path":"/bin/sh","args":["sh","-c","echo nope >&2; exit 3"]}]}' -- true
  run runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"prestart hook #0 (/bin/sh) failed: exit status 3: nope"* ]]
  [ -z "$(runx list -q)" ]
}

@test "a hook past its timeout is killed and fails create" {
  make_bundle --set hooks='{"createRuntime":[{"path":"/bin/sleep","args":["sleep","30"],"timeout":1}]}' -- true
  run runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"createRuntime hook #0 (/bin/sleep) failed: timed out after 1 s"* ]]
}

@test "failing poststart and poststop hooks only warn" {
  make_bundle --set hooks='{"poststart":[{"path":"/bin/false"}],"poststop":[{"path":"/bin/false"}]}' -- sh -c 'echo ran'
  # The warnings are runx's, not the container's: they go to --log, and the
  # container's own output (stderr is a pipe here, not a person's terminal) stays clean.
  run --separate-stderr "$RUNX_BIN" --root "$ROOT" --log "$BATS_TEST_TMPDIR/log" run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "$output" = ran ]
  [[ "$stderr" != *"hook #0"* ]]
  grep -q 'poststart hook #0 (/bin/false) failed: exit status 1' "$BATS_TEST_TMPDIR/log"
  grep -q 'poststop hook #0 (/bin/false) failed: exit status 1' "$BATS_TEST_TMPDIR/log"
}
