#!/usr/bin/env bats
# A hostile or unlucky local user against one host's runx (issue 21): state others must
# not read, ids that would break derived names or pose as another's lock, a delete
# racing a create, a corrupt record, and inputs that must fail in one clear line.
# "nobody" is setpriv to uid/gid 65534 with no groups.

load helpers

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

@test "state is private: as nobody, a container's config.json (its env secrets) and disk cannot be read" {
  # A root runx makes itself, under a directory anyone may enter.
  parent="$(mktemp -d /tmp/runx-bats-pub.XXXXXX)"
  chmod 755 "$parent"
  rm -rf "$ROOT"
  root="$parent/root"
  ROOT="$root" # teardown deletes what is left there
  make_bundle --set process.env='["PATH=/bin","DB_PASSWORD=s3cret"]' -- sleep 1000
  "$RUNX_BIN" --root "$root" create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  run nobody grep DB_PASSWORD "$root/c1/config.json"
  [ "$status" -ne 0 ]
  [[ "$output" != *s3cret* ]]
  run nobody head -c 1 "$root/c1/rootfs.ext4"
  [ "$status" -ne 0 ]
  [ "$(stat -c %a "$root")" = 700 ]
  [ "$(stat -c %a "$root/c1")" = 700 ]
  [ "$(stat -c %a "$root/c1/config.json")" = 600 ]
  [ "$(stat -c %a "$root/c1/rootfs.ext4")" = 600 ]
  # A root that already exists with a looser mode (an older runx's): each state
  # directory is private all the same.
  chmod 755 "$root"
  "$RUNX_BIN" --root "$root" create --bundle "$BUNDLE" c2 </dev/null >/dev/null 2>&1
  run nobody grep DB_PASSWORD "$root/c2/config.json"
  [ "$status" -ne 0 ]
  [[ "$output" != *s3cret* ]]
  run nobody ls "$root/c2"
  [ "$status" -ne 0 ]
  for id in c1 c2; do "$RUNX_BIN" --root "$root" delete -f "$id"; done
  rm -rf "$parent"
}

@test "a 255-character id is refused at create in one line; a 64-hex id (Docker's, containerd's) works" {
  make_bundle -- true
  long="$(printf 'a%.0s' $(seq 255))"
  # into a file: a keeper (the bug) would hold a pipe open
  st=0; runx create --bundle "$BUNDLE" "$long" >"$BATS_TEST_TMPDIR/o" 2>&1 </dev/null || st=$?
  [ "$st" -eq 1 ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/o")" -eq 1 ]
  [ "$(cat "$BATS_TEST_TMPDIR/o")" = "runx: invalid container id: 255 characters, at most 244" ]
  [ -z "$(runx list -q)" ]
  hex="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  [ "${#hex}" -eq 64 ]
  run runx run --bundle "$BUNDLE" "$hex"
  [ "$status" -eq 0 ]
  [ -z "$(runx list -q)" ]
}

@test "an id that names another container's lock (.c1.lock) cannot make it unmanageable" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" .c1.lock </dev/null >/dev/null 2>&1
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  runx start c1
  # each is managed on its own (before: c1's lock was .c1.lock's state directory)
  run timeout 20 "$RUNX_BIN" --root "$ROOT" kill c1 KILL
  [ "$status" -eq 0 ]
  wait_status c1 stopped
  run timeout 20 "$RUNX_BIN" --root "$ROOT" delete c1
  [ "$status" -eq 0 ]
  [ "$(runx list -q)" = .c1.lock ]
  [ "$(state_field .c1.lock status)" = created ]
  runx delete -f .c1.lock
  [ -z "$(runx list -q)" ]
}

@test "delete -f during create: create fails saying so, no stack trace, nothing is left" {
  # The hook runs while create is under way (the container is "creating").
  cat >"$BATS_TEST_TMPDIR/delete-hook" <<SH
#!/bin/sh
"$RUNX_BIN" --root "$ROOT" delete -f c1
SH
  chmod +x "$BATS_TEST_TMPDIR/delete-hook"
  make_bundle --set hooks='{"createRuntime":[{"path":"'"$BATS_TEST_TMPDIR/delete-hook"'"}]}' -- sleep 1000
  st=0; runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 >"$BATS_TEST_TMPDIR/o" 2>&1 </dev/null || st=$?
  output="$(cat "$BATS_TEST_TMPDIR/o")"
  echo "$output"
  [ "$st" -eq 1 ]
  [[ "$output" == *'container "c1" was deleted (delete --force) while it was being created'* ]]
  [[ "$output" != *"    at "* ]]
  [[ "$output" != *"node:"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/pid" ]
  [ ! -e "$ROOT/c1" ]
  [ -z "$(runx list -q)" ]
  # no keeper or QEMU of it lives on
  ! pgrep -f "runx keeper .*$ROOT/c1" >/dev/null
  ! pgrep -f "qemu.*$ROOT/c1/" >/dev/null
}

@test "a corrupt state.json is listed as unknown with a warning, and delete -f removes it" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  keeper="$(record_field c1 keeperPid)"
  echo '{"id": "c1", "stat' >"$ROOT/c1/state.json"
  run --separate-stderr runx list
  [ "$status" -eq 0 ]
  [[ "$output" == *c1*unknown* ]]
  [[ "$stderr" == *'container "c1": state file '*'is corrupt; listed as unknown (runx delete --force c1 removes it)'* ]]
  run --separate-stderr runx list -q
  [ "$output" = c1 ]
  runx delete -f c1
  [ ! -e "$ROOT/c1" ]
  [ -z "$(runx list -q)" ]
  # its keeper (and so its VM) was told to end
  wait_gone "$keeper"
}

@test "bad input fails in one clear line: a 1 MiB argument, --root FILE, list of a bad root" {
  make_bundle -- echo small
  node -e 'const f=process.argv[1]; const c=JSON.parse(require("fs").readFileSync(f)); c.process.args[1]="x".repeat(1048576); require("fs").writeFileSync(f, JSON.stringify(c))' "$BUNDLE/config.json"
  run runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "runx: config.json: process.args[1] is 1048576 bytes; at most 131071 (Linux's MAX_ARG_STRLEN per argument or variable)" ]]
  [ -z "$(runx list -q)" ]
  touch "$BATS_TEST_TMPDIR/file"
  for verb in "list" "state c1" "delete c1"; do
    run "$RUNX_BIN" --root "$BATS_TEST_TMPDIR/file" $verb
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "runx: --root $BATS_TEST_TMPDIR/file is not a directory" ]]
  done
  run "$RUNX_BIN" --root "$BATS_TEST_TMPDIR/file" create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [[ "$output" == "runx: --root $BATS_TEST_TMPDIR/file is not a directory" ]]
  run "$RUNX_BIN" --root "$BATS_TEST_TMPDIR/file/sub" list
  [ "$status" -eq 1 ]
  [[ "$output" == "runx: --root $BATS_TEST_TMPDIR/file/sub: a parent is not a directory" ]]
  # a root not made yet lists nothing, as runc's
  run "$RUNX_BIN" --root "$BATS_TEST_TMPDIR/none" list -q
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a token file readable by group or others is warned about" {
  echo "t0ken-$RANDOM" >"$BATS_TEST_TMPDIR/token"
  chmod 644 "$BATS_TEST_TMPDIR/token"
  run runx serve --listen 127.0.0.1:0 --token-file "$BATS_TEST_TMPDIR/token" --source-timeout nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"token file $BATS_TEST_TMPDIR/token is readable by others (mode 0644)"*"chmod 600 it"* ]]
  [[ "$output" == *"--source-timeout must be a positive number of seconds"* ]]
  chmod 640 "$BATS_TEST_TMPDIR/token"
  run runx migrate --to 127.0.0.1:1 --token-file "$BATS_TEST_TMPDIR/token" nope
  [ "$status" -eq 1 ]
  [[ "$output" == *"readable by its group (mode 0640)"* ]]
  chmod 600 "$BATS_TEST_TMPDIR/token"
  run runx migrate --to 127.0.0.1:1 --token-file "$BATS_TEST_TMPDIR/token" nope
  [ "$status" -eq 1 ]
  [ "$output" = 'runx: container "nope" does not exist' ]
}
