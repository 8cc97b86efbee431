#!/usr/bin/env bats
# checkpoint/restore of whole VMs: state and output continue, --leave-running, and
# every kind of bad image is refused in one line without creating anything.

load helpers

COUNTER='i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done'

start_counter() { # id out-file
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/$1.pid" "$1" >"$2" 2>&1 </dev/null
  runx start "$1"
}

# Checks that the files, concatenated, hold 1..N with no gap and no repeat.
consecutive() {
  cat "$@" | awk 'NR != $0 { print "line " NR " is \"" $0 "\""; bad = 1; exit } END { if (NR < 5) { print "only " NR " lines"; bad = 1 } exit bad }'
}

@test "a checkpointed counter restored under a new id continues where it was, losing no output" {
  make_bundle -- sh -c "$COUNTER"
  start_counter c1 "$BATS_TEST_TMPDIR/out1"
  sleep 1
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  [ "$(state_field c1 status)" = stopped ]
  wait_gone "$(cat "$BATS_TEST_TMPDIR/c1.pid")"
  last="$(tail -n 1 "$BATS_TEST_TMPDIR/out1")"
  [ "$last" -gt 3 ]
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" --detach --pid-file "$BATS_TEST_TMPDIR/c2.pid" c2 >"$BATS_TEST_TMPDIR/out2" 2>&1 </dev/null
  [ "$(state_field c2 status)" = running ]
  [ "$(state_field c2 pid)" = "$(cat "$BATS_TEST_TMPDIR/c2.pid")" ]
  sleep 1
  runx kill c2 KILL
  wait_status c2 stopped
  wait_gone "$(cat "$BATS_TEST_TMPDIR/c2.pid")"
  [ "$(head -n 1 "$BATS_TEST_TMPDIR/out2")" -eq $((last + 1)) ] || { echo "last=$last"; tail -n 3 "$BATS_TEST_TMPDIR/out1"; echo ---; head -n 3 "$BATS_TEST_TMPDIR/out2"; false; }
  consecutive "$BATS_TEST_TMPDIR/out1" "$BATS_TEST_TMPDIR/out2"
}

@test "--leave-running keeps the container running; the image restores beside it" {
  make_bundle -- sh -c "$COUNTER"
  start_counter c1 "$BATS_TEST_TMPDIR/out1"
  sleep 0.5
  before="$(wc -l <"$BATS_TEST_TMPDIR/out1")"
  runx checkpoint --leave-running --image-path "$BATS_TEST_TMPDIR/img" c1
  [ "$(state_field c1 status)" = running ]
  after="$(wc -l <"$BATS_TEST_TMPDIR/out1")"
  sleep 0.5
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out1")" -gt "$after" ]
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --detach c2 >"$BATS_TEST_TMPDIR/out2" 2>&1 </dev/null
  [ "$(state_field c1 status)" = running ]
  [ "$(state_field c2 status)" = running ]
  for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/out2" ] && break; sleep 0.1; done
  # the copy counts on from the instant of the checkpoint, which lies between the two counts
  first="$(head -n 1 "$BATS_TEST_TMPDIR/out2")"
  [ "$first" -gt "$before" ]
  [ "$first" -le $((after + 1)) ]
}

@test "a created (not started) container restores as created and starts" {
  make_bundle -- sh -c 'echo started-after-restore'
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --detach c2 >"$BATS_TEST_TMPDIR/out2" 2>&1 </dev/null
  [ "$(state_field c2 status)" = created ]
  runx start c2
  wait_status c2 stopped
  [ "$(cat "$BATS_TEST_TMPDIR/out2")" = started-after-restore ]
}

@test "incremental flags are refused with a clear message, the container untouched" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  run runx checkpoint --pre-dump --image-path "$BATS_TEST_TMPDIR/img" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"--pre-dump: incremental (dirty-page) checkpoints are not supported"* ]]
  [ "$(state_field c1 status)" = created ]
  run runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" nope
  [ "$status" -eq 1 ]
  [[ "$output" == *'"nope" does not exist'* ]]
}

# rewrite_manifest KEY JSON: changes one manifest field and re-signs its digest, as a
# manifest written by another host would be.
rewrite_manifest() {
  node -e '
    const fs = require("fs"), crypto = require("crypto");
    const f = process.argv[1], m = JSON.parse(fs.readFileSync(f, "utf8"));
    let o = m; const keys = process.argv[2].split(".");
    for (const k of keys.slice(0, -1)) o = o[k];
    o[keys.at(-1)] = JSON.parse(process.argv[3]);
    delete m.digest;
    m.digest = crypto.createHash("sha256").update(JSON.stringify(m)).digest("hex");
    fs.writeFileSync(f, JSON.stringify(m));' "$IMG/manifest.json" "$1" "$2"
}

refused() { # expected-text
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"$1"* ]]
  [ ! -d "$ROOT/r1" ]
}

@test "bad images are refused in one line and create nothing" {
  make_bundle -- sh -c "$COUNTER"
  start_counter c1 "$BATS_TEST_TMPDIR/out1"
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/good" c1
  IMG="$BATS_TEST_TMPDIR/img"
  fresh() { rm -rf "$IMG"; cp -a --sparse=always "$BATS_TEST_TMPDIR/good" "$IMG"; }

  fresh; truncate -s -4096 "$IMG/vm.state"
  run runx restore --image-path "$IMG" --detach r1
  refused "vm.state is"
  refused "(truncated or replaced)"

  fresh; printf '\xff' | dd of="$IMG/rootfs.ext4" bs=1 seek=1200 conv=notrunc status=none
  run runx restore --image-path "$IMG" --detach r1
  refused "rootfs.ext4 does not match its checksum (corrupt)"

  fresh; sed -i 's/"cpu": "max"/"cpu": "maX"/' "$IMG/manifest.json"
  run runx restore --image-path "$IMG" --detach r1
  refused "manifest.json was altered"

  fresh; rewrite_manifest qemu.build '"QEMU emulator version 9.9.9 (elsewhere)"'
  run runx restore --image-path "$IMG" --detach r1
  refused 'was taken with "QEMU emulator version 9.9.9 (elsewhere)"'

  fresh; rewrite_manifest qemu '{"build":"'"$("${RUNX_QEMU:-qemu-system-x86_64}" --version | head -n 1)"'","machine":"microvm","cpu":"host","accel":"kvm"}'
  run runx restore --image-path "$IMG" --detach r1
  refused 'needs CPU model "host" under kvm'

  # (its output through a file: a restore that wrongly went ahead would leave a keeper
  # holding run's pipe open)
  fresh; rewrite_manifest agentProtocol 99
  run bash -c '"$0" --root "$1" restore --image-path "$2" --detach r1 >"$3" 2>&1 </dev/null; rc=$?; cat "$3"; exit $rc' \
    "$RUNX_BIN" "$ROOT" "$IMG" "$BATS_TEST_TMPDIR/r1.out"
  refused "guest agent protocol 99, but this runx speaks protocol $(node -p 'require(process.argv[1]).version' "$REPO/docs/protocol/agent.json")"

  fresh; rm "$IMG/manifest.json"
  run runx restore --image-path "$IMG" --detach r1
  refused "not a runx checkpoint"

  fresh
  node "$REPO/test/helpers/make-bundle.mjs" "$BATS_TEST_TMPDIR/other" -- sh -c 'echo different'
  run runx restore --image-path "$IMG" --bundle "$BATS_TEST_TMPDIR/other" --detach r1
  refused "config.json differs from the checkpoint's in process.args"

  # the good image still restores
  runx restore --image-path "$BATS_TEST_TMPDIR/good" --detach r1 </dev/null >/dev/null 2>&1
  [ "$(state_field r1 status)" = running ]
}

@test "checkpoint and restore with the exact command lines containerd's runc shim sends" {
  make_bundle -- sh -c "$COUNTER"
  start_counter c1 "$BATS_TEST_TMPDIR/out1"
  sleep 0.5
  "$RUNX_BIN" --root "$ROOT" --log "$BATS_TEST_TMPDIR/log.json" --log-format json checkpoint \
    --image-path "$BATS_TEST_TMPDIR/img" --work-path "$BATS_TEST_TMPDIR/work" c1
  [ "$(state_field c1 status)" = stopped ]
  runx delete c1
  "$RUNX_BIN" --root "$ROOT" --log "$BATS_TEST_TMPDIR/log.json" --log-format json restore --detach \
    --pid-file "$BATS_TEST_TMPDIR/r.pid" -no-subreaper --bundle "$BUNDLE" \
    --image-path "$BATS_TEST_TMPDIR/img" --work-path "$BATS_TEST_TMPDIR/work" c1 >"$BATS_TEST_TMPDIR/out2" 2>&1 </dev/null
  [ "$(state_field c1 status)" = running ]
  [ "$(cat "$BATS_TEST_TMPDIR/r.pid")" = "$(state_field c1 pid)" ]
  run ! grep -q '"level":"error"' "$BATS_TEST_TMPDIR/log.json"
}

@test "stdin mid-flow across checkpoint and restore: the agent's window is neither lost nor doubled, and the restored keeper resumes its credit" {
  # The container reads nothing until told (/go): the agent holds the window it got.
  make_bundle -- sh -c 'while [ ! -e /go ]; do sleep 0.1; done; cat >/in.bin; echo $(wc -c </in.bin); echo $(tr -d b </in.bin | wc -c); tr -s ab </in.bin; echo'
  head -c 2097152 /dev/zero | tr '\0' a >"$BATS_TEST_TMPDIR/a"
  head -c 4194304 /dev/zero | tr '\0' b >"$BATS_TEST_TMPDIR/b"
  window=1048576 # docs/protocol/agent.json stdinWindow
  # How far keeper $1 has read the stdin file it inherited, once it stops moving.
  settled_pos() {
    local last=-1 now
    for _ in $(seq 60); do
      now="$(awk '/^pos:/ {print $2}' "/proc/$1/fdinfo/0" 2>/dev/null || echo 0)"
      [ "$now" = "$last" ] && break
      last="$now"; sleep 0.5
    done
    echo "$last"
  }
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/c1.pid" c1 <"$BATS_TEST_TMPDIR/a" >"$BATS_TEST_TMPDIR/out1" 2>&1
  runx start c1
  pos1="$(settled_pos "$(cat "$BATS_TEST_TMPDIR/c1.pid")")"
  # Out of credit: one window sent, not the whole file (a read ahead may wait in the keeper).
  [ "$pos1" -ge "$window" ]
  [ "$pos1" -lt 2097152 ]
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  wait_gone "$(cat "$BATS_TEST_TMPDIR/c1.pid")"
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" --detach --pid-file "$BATS_TEST_TMPDIR/c2.pid" c2 <"$BATS_TEST_TMPDIR/b" >"$BATS_TEST_TMPDIR/out2" 2>&1
  keeper2="$(cat "$BATS_TEST_TMPDIR/c2.pid")"
  # The agent still holds the old keeper's whole window: the new one may send nothing
  # more until the container reads (a full window would have let it read 1 MiB of b).
  pos2="$(settled_pos "$keeper2")"
  echo "keeper 1 read $pos1 bytes of a, keeper 2 read $pos2 bytes of b before the container read" >&3
  [ "$pos2" -lt 262144 ]
  runx exec c2 touch /go
  wait_status c2 stopped 600
  # What the first keeper sent: at least its first window (all of it in the agent when
  # the VM stopped: none lost in flight), at most what it read; then all of b, once,
  # after every a.
  run cat "$BATS_TEST_TMPDIR/out2"
  echo "the container read: ${lines[*]}" >&3
  as="${lines[1]}"
  [ "$as" -ge "$window" ]
  [ "$as" -le "$pos1" ]
  [ "${lines[0]}" = "$((as + 4194304))" ]
  [ "${lines[2]}" = ab ]
}
