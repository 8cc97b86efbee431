#!/usr/bin/env bats
# Encryption and authentication between migration hosts (issue 17 item 1, issue 21
# item 7): the control channel of a token-only serve is TLS, and the destination's
# NBD export and incoming-migration port take only that migration's peer.

load helpers
load serve

COUNTER='i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done'

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  DEST="$(mktemp -d /tmp/runx-bats-dest.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  echo "t0ken-$RANDOM$RANDOM" >"$BATS_TEST_TMPDIR/token"
  chmod 600 "$BATS_TEST_TMPDIR/token"
}

teardown() {
  [ -n "${MIGRATE_PID:-}" ] && kill "$MIGRATE_PID" 2>/dev/null && wait "$MIGRATE_PID" 2>/dev/null || true
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  for r in "$ROOT" "$DEST"; do
    for id in $("$RUNX_BIN" --root "$r" list -q 2>/dev/null); do "$RUNX_BIN" --root "$r" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  rm -rf "$ROOT" "$DEST"
}

# incoming_port ID nbdPort|migratePort: the port the destination's QEMU (or its
# keeper's relay) listens on for this migration, from its launch.json (at most 30 s)
incoming_port() {
  local p
  for _ in $(seq 300); do
    p="$(node -e 'try { console.log(require(process.argv[1]).incoming[process.argv[2]] ?? "") } catch { console.log("") }' "$DEST/$1/launch.json" "$2" 2>/dev/null)"
    [ -n "$p" ] && ss -Hltn "sport = :$p" | grep -q . && echo "$p" && return 0
    sleep 0.1
  done
  return 1
}

@test "a token-only serve speaks TLS only, with the certificate its token stands for" {
  port="$(free_port)"
  start_serve "127.0.0.1:$port"
  # a TLS handshake (which a plaintext gRPC server cannot do) showing the token's certificate
  run bash -c "openssl s_client -connect 127.0.0.1:$port </dev/null 2>&1"
  [[ "$output" == *"CN = runx-migration"* ]]
  # a peer with another token gets no further than the handshake, and says so in one line
  make_bundle -- sh -c "$COUNTER"
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  echo "other-$RANDOM" >"$BATS_TEST_TMPDIR/wrong"
  chmod 600 "$BATS_TEST_TMPDIR/wrong"
  run runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/wrong" c1
  [ "$status" -ne 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "$(state_field c1 status)" = running ]
  [ ! -e "$DEST/c1" ]
}

@test "mid-migration, a client without the key can neither read nor write the destination's disk nor break the stream, and the migration completes" {
  port="$(free_port)"
  start_serve "127.0.0.1:$port"
  make_bundle -- sh -c "$COUNTER"
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  sleep 1
  # 1 MiB/s keeps the memory phase (~25 MiB) going for about 20 s; the counter keeps
  # rewriting a few pages, and the downtime limit lets it converge all the same
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" --bandwidth 1 --downtime-limit 3000 --format json c1 >"$BATS_TEST_TMPDIR/m.json" 2>"$BATS_TEST_TMPDIR/m.err" &
  MIGRATE_PID=$!
  nbd="$(incoming_port c1 nbdPort)"
  mig="$(incoming_port c1 migratePort)"

  # garbage on the incoming-migration port before the source connects
  timeout 10 bash -c "head -c 65536 /dev/urandom >/dev/tcp/127.0.0.1/$mig" 2>/dev/null || true
  timeout 10 bash -c "echo garbage >/dev/tcp/127.0.0.1/$mig" 2>/dev/null || true
  # a read of the export, meanwhile
  timeout 60 qemu-img info "nbd://127.0.0.1:$nbd/root" >"$BATS_TEST_TMPDIR/info" 2>&1 &
  info=$!

  # once the memory phase runs (the source's connection to the migration port is up),
  # a write to the export
  for _ in $(seq 300); do ss -Htn state established "sport = :$mig" | grep -q . && break; sleep 0.1; done
  ss -Htn state established "sport = :$mig" | grep -q .
  run timeout 60 qemu-io -f raw -c 'write -P 0xab 209715200 4096' "nbd://127.0.0.1:$nbd/root"
  echo "qemu-io write: $output" >&2
  [[ "$output" != *"wrote 4096"* ]]
  # the migration was still under way when the write was refused
  kill -0 "$MIGRATE_PID"
  st=0; wait "$info" || st=$?
  echo "qemu-img info: $(cat "$BATS_TEST_TMPDIR/info")" >&2
  [ "$st" -ne 0 ]
  ! grep -q "virtual size" "$BATS_TEST_TMPDIR/info"

  st=0; wait "$MIGRATE_PID" || st=$?
  MIGRATE_PID=
  cat "$BATS_TEST_TMPDIR/m.err" >&2
  [ "$st" -eq 0 ]
  [ "$("$RUNX_BIN" --root "$DEST" state c1 | grep -c '"status": "running"')" -eq 1 ]
  # the migrated container's disk does not have the write: that block is the source's
  block() { dd if="$1/c1/rootfs.ext4" bs=4096 skip=51200 count=1 2>/dev/null | od -An -v -tx1; }
  [ "$(block "$DEST" | tr -s ' \n' '\n' | grep -c '^ab$')" -lt 4096 ]
  [ "$(block "$DEST")" = "$(block "$ROOT")" ]
  # and its output still comes through the stand-in, unbroken
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  sleep 1
  [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -gt "$n" ]
  awk 'NR != $0 { print "line " NR " is \"" $0 "\""; bad = 1; exit } END { exit bad }' "$BATS_TEST_TMPDIR/out"
  # no key is left on either host
  [ -z "$(find "$DEST" "$ROOT" -name keys.psk)" ]
}
