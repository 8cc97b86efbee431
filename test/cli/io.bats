#!/usr/bin/env bats
# The container's stdio is the runtime's: stdin relayed in, stdout/stderr relayed out,
# and no byte lost when the process exits right after writing.

load helpers

@test "a few MiB written just before exit arrive whole (checksum)" {
  make_bundle -- sh -c 'head -c 4194304 /dev/urandom > /tmp/blob; md5sum /tmp/blob >&2; cat /tmp/blob'
  runx run --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/out")" -eq 4194304 ]
  [ "$(md5sum <"$BATS_TEST_TMPDIR/out" | cut -d' ' -f1)" = "$(cut -d' ' -f1 "$BATS_TEST_TMPDIR/err")" ]
}

@test "stdin is relayed, and its end reaches the container as EOF" {
  make_bundle -- sh -c 'cat; echo "<eof>"'
  run bash -c "printf 'line one\nline two\n' | '$RUNX_BIN' --root '$ROOT' run --bundle '$BUNDLE' c1"
  [ "$status" -eq 0 ]
  [ "$output" = $'line one\nline two\n<eof>' ]
}

@test "binary stdin round-trips byte for byte" {
  head -c 300000 /dev/urandom >"$BATS_TEST_TMPDIR/in"
  make_bundle -- cat
  runx run --bundle "$BUNDLE" c1 <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
  cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
}

@test "output of a detached container goes to the files create was given" {
  make_bundle -- sh -c 'echo to-out; echo to-err >&2'
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" </dev/null
  runx start c1
  wait_status c1 stopped
  wait_gone "$(cat "$BATS_TEST_TMPDIR/pid")"
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = to-out ]
  [ "$(cat "$BATS_TEST_TMPDIR/err")" = to-err ]
}

@test "stdin many times the agent's credit window arrives whole (checksum)" {
  head -c 8388608 /dev/urandom >"$BATS_TEST_TMPDIR/in"
  make_bundle -- sha256sum
  run --separate-stderr runx run --bundle "$BUNDLE" c1 <"$BATS_TEST_TMPDIR/in"
  [ "$status" -eq 0 ]
  [ "${output%% *}" = "$(sha256sum <"$BATS_TEST_TMPDIR/in" | cut -d' ' -f1)" ]
}

@test "a container that does not read its stdin holds up nothing: ps, exec and kill answer" {
  head -c 41943040 /dev/zero >"$BATS_TEST_TMPDIR/in"
  make_bundle -- sleep 1000
  runx run -d --pid-file "$BATS_TEST_TMPDIR/pid" --bundle "$BUNDLE" c1 <"$BATS_TEST_TMPDIR/in" >/dev/null 2>&1
  keeper="$(cat "$BATS_TEST_TMPDIR/pid")"
  # How far the keeper has read the stdin it inherited; wait until it stops.
  pos() { awk '/^pos:/ {print $2}' "/proc/$keeper/fdinfo/0" 2>/dev/null || echo 0; }
  last=-1
  for _ in $(seq 60); do
    now="$(pos)"
    [ "$now" -gt 0 ] && [ "$now" = "$last" ] && break
    last="$now"; sleep 0.5
  done
  run timeout 30 "$RUNX_BIN" --root "$ROOT" ps c1
  [ "$status" -eq 0 ]
  [[ "$output" == *"sleep 1000"* ]]
  run timeout 30 "$RUNX_BIN" --root "$ROOT" exec c1 echo alive
  [ "$output" = alive ]
  # the keeper read only what the agent's credit let it send, not the whole file
  [ "$(pos)" -lt 8388608 ]
  run timeout 30 "$RUNX_BIN" --root "$ROOT" kill c1 KILL
  [ "$status" -eq 0 ]
  wait_status c1 stopped 300
}
