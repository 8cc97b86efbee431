#!/usr/bin/env bats
# The guest agent's `create`, driven directly (test/helpers/agent-session.mjs: a real
# VM, no keeper), for what the CLI cannot show: the keeper ends the VM as soon as
# create fails. A refused create must leave the VM as it was, so the agent checks the
# whole request before it changes anything.

load helpers

SESSION() { node "$REPO/test/helpers/agent-session.mjs" "$BUNDLE" "$BATS_TEST_TMPDIR/vm"; }

@test "agent: a create refused for a field late in the request changes nothing in the VM first (clock, cgroup)" {
  make_bundle -- date -u +%Y
  # 2100-01-01: a clock the host would never send; res.pids: a limit on the container's cgroup
  run --separate-stderr SESSION <<'JSON'
[{"request": "create", "base": true, "fields": [["time", 4102444800000], ["res.pids", "7"], ["ns", "bogus"]]},
 {"request": "create", "base": true},
 {"request": "stats"},
 {"request": "start"},
 {"output": true}]
JSON
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 5 ]
  [[ "${lines[0]}" == *'"error":"create: unsupported namespace type bogus"'* ]]
  [[ "${lines[1]}" == *'"reply":"created"'* ]]
  # no pids limit left from the refused create
  [[ "${lines[2]}" == *'"reply":"usage"'* ]]
  [[ "${lines[2]}" != *'pids.limit'* ]]
  # nor its clock: the container sees this year, not 2100
  [[ "${lines[4]}" == *"\"output\":\"$(date -u +%Y)\\n\""* ]]
}

@test "agent: a create refused for a bad network field sets no clock first" {
  make_bundle -- date -u +%Y
  run --separate-stderr SESSION <<'JSON'
[{"request": "create", "base": true, "fields": [["time", 4102444800000], ["net.addr", "300.1.1.1/24"]]},
 {"request": "create", "base": true},
 {"request": "start"},
 {"output": true}]
JSON
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *'"error":"network: bad address'* ]]
  [[ "${lines[1]}" == *'"reply":"created"'* ]]
  [[ "${lines[3]}" == *"\"output\":\"$(date -u +%Y)\\n\""* ]]
}

@test "a guest agent of another protocol version is refused at once, in one line" {
  bash "$REPO/test/helpers/make-old-agent-initramfs.sh" "$BATS_TEST_TMPDIR/old.cpio"
  make_bundle -- true
  # cold: a template is a VM of this runx's own agent
  start=$SECONDS
  RUNX_INITRAMFS="$BATS_TEST_TMPDIR/old.cpio" RUNX_BOOT_TIMEOUT_MS=60000 run --separate-stderr runx --boot cold run --bundle "$BUNDLE" c1
  [ "$status" -ne 0 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == *"does not speak this runx's agent protocol 2 (unsupported protocol version 1)"* ]]
  # not the boot timeout
  [ $((SECONDS - start)) -lt 30 ]
  [ -z "$(runx list -q)" ]
}
