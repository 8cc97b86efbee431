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
