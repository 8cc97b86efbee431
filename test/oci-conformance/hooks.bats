#!/usr/bin/env bats
# config.md "POSIX-platform Hooks" and runtime.md "Lifecycle": hooks. runx runs them
# on the host (src/xcontainer/container/hooks.ts), with the state on stdin.

load helpers


# hook_script NAME: a hook that appends "NAME status" (from the state on stdin) to a log.
hook_script() {
  cat >"$BATS_TEST_TMPDIR/$1.sh" <<SH
#!/bin/sh
state="\$(cat)"
status="\$(echo "\$state" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')"
echo "$1 \$status" >>"$BATS_TEST_TMPDIR/hooks.log"
SH
  chmod +x "$BATS_TEST_TMPDIR/$1.sh"
  echo "$BATS_TEST_TMPDIR/$1.sh"
}

@test "hooks: every kind runs, in lifecycle order, with the state on stdin" {
  local hooks="{" k
  # startContainer is left out: its path is resolved inside the container, where a
  # host-side log file cannot be reached (in runx: not even the same kernel).
  for k in prestart createRuntime createContainer poststart poststop; do
    hooks+="\"$k\":[{\"path\":\"$(hook_script "$k")\"}],"
  done
  hooks="${hooks%,}}"
  make_bundle --set hooks="$hooks" -- true
  create "$ID"
  rt start "$ID"
  wait_status "$ID" stopped
  rt delete "$ID"
  run cat "$BATS_TEST_TMPDIR/hooks.log"
  [ "${lines[0]}" = "prestart creating" ]
  [ "${lines[1]}" = "createRuntime creating" ]
  [ "${lines[2]}" = "createContainer creating" ]
  [ "${lines[3]}" = "poststart running" ]
  [ "${lines[4]}" = "poststop stopped" ]
}

@test "hooks: a failing prestart hook fails create" {
  make_bundle --set hooks='{"prestart":[{"path":"/bin/false"}]}' -- true
  run try_create "$ID"
  [ "$status" -ne 0 ]
}

@test "hooks: a failing poststart hook only warns: the container keeps running" {
  make_bundle --set hooks='{"poststart":[{"path":"/bin/false"}]}' -- sh -c 'echo ran'
  create "$ID"
  run rt start "$ID"
  wait_status "$ID" stopped
  [ "$(cat "$OUT")" = ran ]
}

@test "hooks: a failing poststop hook only warns: delete succeeds" {
  make_bundle --set hooks='{"poststop":[{"path":"/bin/false"}]}' -- true
  create "$ID"
  rt start "$ID"
  wait_status "$ID" stopped
  rt delete "$ID"
  run rt state "$ID"
  [ "$status" -ne 0 ]
}
