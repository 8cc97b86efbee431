#!/usr/bin/env bats
# Carried mounts (docs/mounts.md): a container made as Docker makes one (file binds of
# hosts, resolv.conf and hostname, a named volume) checkpoints, restores and live-
# migrates with its volume, every fsync'd record there exactly once; a live share is
# refused in one line; a destination without room, or dying mid-transfer, leaves the
# source running and its volume untouched.

load helpers

# N numbered records appended to the volume, each synced, each echoed to stdout so the
# test can see progress (the volume's host copy is only written at the end).
writer() { # count
  echo "i=0; while [ \$i -lt $1 ]; do i=\$((i+1)); echo \$i >>/data/log; sync; echo \$i; sleep 0.05; done; cat /etc/hosts >/data/hosts-seen; cat /etc/hostname >/data/hostname-seen"
}

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  DEST="$(mktemp -d /tmp/runx-bats-dest.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  echo "t0ken-$RANDOM$RANDOM" >"$BATS_TEST_TMPDIR/token"
  chmod 600 "$BATS_TEST_TMPDIR/token"
  # What dockerd makes for a container: its files, and a named volume's _data.
  C="$BATS_TEST_TMPDIR/containers/c1"
  VOL="$BATS_TEST_TMPDIR/volumes/myvol/_data"
  mkdir -p "$C" "$VOL"
  printf '127.0.0.1 localhost\n10.0.0.5 c1\n' >"$C/hosts"
  echo 'nameserver 127.0.0.11' >"$C/resolv.conf"
  echo c1 >"$C/hostname"
  echo before >"$VOL/existing"
  MOUNTS="[{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"$C/hosts\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\",\"source\":\"$C/resolv.conf\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"$C/hostname\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$VOL\",\"options\":[\"rbind\",\"rprivate\"]}]"
}

teardown() {
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  for r in "$ROOT" "$DEST"; do
    for id in $("$RUNX_BIN" --root "$r" list -q 2>/dev/null); do "$RUNX_BIN" --root "$r" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  if mountpoint -q "$DEST"; then umount "$DEST"; fi
  rm -rf "$ROOT" "$DEST"
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start_serve() { # extra serve flags...
  port="$(free_port)"
  "$RUNX_BIN" --root "$DEST" serve --listen "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" "$@" 2>"$BATS_TEST_TMPDIR/serve.err" &
  SERVE_PID=$!
  for _ in $(seq 100); do grep -q listening "$BATS_TEST_TMPDIR/serve.err" 2>/dev/null && return 0; sleep 0.1; done
  cat "$BATS_TEST_TMPDIR/serve.err" >&2
  return 1
}

start_writer() { # count [annotations JSON]
  make_bundle --set mounts="$MOUNTS" ${2:+--set annotations="$2"} -- sh -c "$(writer "$1")"
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
}

wait_lines() { # n: the writer has echoed at least n records (bounded: 60 s)
  for _ in $(seq 600); do [ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -ge "$1" ] && return 0; sleep 0.1; done
  echo "only $(wc -l <"$BATS_TEST_TMPDIR/out") records after 60 s" >&2
  return 1
}

wait_stopped() { # root id (bounded: 120 s)
  for _ in $(seq 1200); do
    [ "$("$RUNX_BIN" --root "$1" state "$2" 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).status))')" = stopped ] && return 0
    sleep 0.1
  done
  echo "$2 under $1 did not stop" >&2
  return 1
}

exactly_once() { # file count: records 1..count, each once, in order
  diff <(seq "$2") "$1" >/dev/null || { echo "$1: $(wc -l <"$1") lines, not 1..$2 once each" >&2; sort -n "$1" | uniq -d | head -3 >&2; return 1; }
}

@test "a Docker-like container live-migrates with its binds: every record once at the destination, the source's volume untouched" {
  start_serve
  start_writer 150
  wait_lines 20
  run runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$status" -eq 0 ]
  [[ "$output" == *"c1 now runs at 127.0.0.1:$port"* ]]
  wait_stopped "$DEST" c1
  # No --volume-root here: the destination keeps the binds in a directory of its own.
  exactly_once "$DEST/@volumes/c1/3/log" 150
  [ "$(cat "$DEST/@volumes/c1/3/existing")" = before ]
  [ "$(cat "$DEST/@volumes/c1/3/hosts-seen")" = "$(cat "$C/hosts")" ]
  [ "$(cat "$DEST/@volumes/c1/3/hostname-seen")" = c1 ]
  # Nothing came through the source host's directory: it holds what it held at create.
  [ "$(ls "$VOL")" = existing ]
  # delete keeps the volume, as an engine keeps a named volume.
  "$RUNX_BIN" --root "$DEST" delete c1
  [ ! -e "$DEST/c1" ]
  exactly_once "$DEST/@volumes/c1/3/log" 150
}

@test "with --volume-root, the destination writes the volume back at the source's own path" {
  start_serve --volume-root "$BATS_TEST_TMPDIR/volumes"
  start_writer 60
  wait_lines 10
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  wait_stopped "$DEST" c1
  exactly_once "$VOL/log" 60
  # Outside the volume root: the container's files went to runx's own directory.
  [ -f "$DEST/@volumes/c1/0" ]
  [ ! -e "$DEST/@volumes/c1/3" ]
}

@test "checkpoint, delete and restore a Docker-like container: every record once in the host's volume at its end" {
  start_writer 120
  wait_lines 20
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  [ -f "$BATS_TEST_TMPDIR/img/carry.ext4" ]
  runx delete c1
  runx restore --detach --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  wait_stopped "$ROOT" c1
  exactly_once "$VOL/log" 120
  [ "$(cat "$VOL/hosts-seen")" = "$(cat "$C/hosts")" ]
}

@test "a bind kept a live share (io.runx.live-share) is refused by checkpoint and migrate in one line naming it; the container runs on" {
  start_serve
  start_writer 400 '{"io.runx.live-share":"/data"}'
  wait_lines 5
  run runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"cannot checkpoint container c1: bind mount /data (from $VOL) is a live host share (annotation io.runx.live-share)"* ]]
  run runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"cannot migrate container c1: bind mount /data"* ]]
  [ "$(state_field c1 status)" = running ]
  # A live share is the host's directory itself: the records are there while it runs.
  n="$(wc -l <"$BATS_TEST_TMPDIR/out")"
  for _ in $(seq 100); do [ "$(wc -l <"$VOL/log" 2>/dev/null || echo 0)" -ge "$n" ] && break; sleep 0.1; done
  [ "$(wc -l <"$VOL/log")" -ge "$n" ]
  [ ! -e "$DEST/c1" ]
}

@test "a destination without room for the carried volume refuses Prepare in one line; the source runs on, nothing made there" {
  # The destination's --root on a tmpfs too small for the root disk and the carry disk.
  mount -t tmpfs -o size=400m runx-bats-small "$DEST"
  start_serve
  start_writer 400
  wait_lines 5
  run runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"not enough free disk under $DEST"*"of it its carried mounts"* ]]
  [ "$(state_field c1 status)" = running ]
  [ -z "$(ls -A "$DEST")" ]
}

@test "the destination's keeper killed mid-transfer: the source runs on, its records all kept, nothing left on the destination" {
  # 96 MiB in the volume, so the mirror takes a while.
  head -c $((96 * 1024 * 1024)) /dev/urandom >"$VOL/big"
  sum="$(sha256sum <"$VOL/big")"
  start_serve
  start_writer 100
  wait_lines 5
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1 >"$BATS_TEST_TMPDIR/mig.out" 2>&1 &
  mig=$!
  pid=
  for _ in $(seq 300); do
    pid="$(node -e 'try{console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).keeperPid||"")}catch{}' "$DEST/c1/state.json" 2>/dev/null)"
    [ -n "$pid" ] && [ "$pid" != 0 ] && break
    sleep 0.05
  done
  [ -n "$pid" ]
  kill -9 "$pid"
  st=0
  wait "$mig" || st=$?
  [ "$st" -ne 0 ]
  [ "$(wc -l <"$BATS_TEST_TMPDIR/mig.out")" -eq 1 ] || { cat "$BATS_TEST_TMPDIR/mig.out" >&2; false; }
  [ "$(state_field c1 status)" = running ]
  wait_stopped "$ROOT" c1
  exactly_once "$VOL/log" 100
  [ "$(sha256sum <"$VOL/big")" = "$sum" ]
  for _ in $(seq 100); do [ ! -e "$DEST/c1" ] && break; sleep 0.1; done
  [ ! -e "$DEST/c1" ]
  [ ! -e "$DEST/@volumes/c1" ]
}
