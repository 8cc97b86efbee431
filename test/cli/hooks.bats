#!/usr/bin/env bats
# runtime-spec hooks on the host: order, the state JSON on stdin with the right
# status, a failing prestart fails create, a failing poststart/poststop only warns.

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

@test "hooks run in lifecycle order with the state on stdin" {
  LOG="$BATS_TEST_TMPDIR/hooks.log"
  write_record_hook
  make_bundle --set hooks="{\"prestart\":[$(hook prestart)],\"createRuntime\":[$(hook createRuntime)],\"createContainer\":[$(hook createContainer)],\"startContainer\":[$(hook startContainer)],\"poststart\":[$(hook poststart)],\"poststop\":[$(hook poststop)]}" -- true
  runx run --bundle "$BUNDLE" c1
  run cat "$LOG"
  [ "${lines[0]}" = "prestart creating prestart-env" ]
  [ "${lines[1]}" = "createRuntime creating createRuntime-env" ]
  [ "${lines[2]}" = "createContainer creating createContainer-env" ]
  [ "${lines[3]}" = "startContainer created startContainer-env" ]
  [ "${lines[4]}" = "poststart running poststart-env" ]
  [ "${lines[5]}" = "poststop stopped poststop-env" ]
  [ "${#lines[@]}" -eq 6 ]
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
  run runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [[ "$output" == *"ran"* ]]
  [[ "$output" == *"poststart hook #0 (/bin/false) failed: exit status 1"* ]]
  [[ "$output" == *"poststop hook #0 (/bin/false) failed: exit status 1"* ]]
}
