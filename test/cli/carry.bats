#!/usr/bin/env bats
# Carried mounts (docs/mounts.md): a container made as Docker makes one (file binds of
# hosts, resolv.conf and hostname, a named volume) checkpoints, restores and live-
# migrates with its volume, every fsync'd record there exactly once; a live share is
# refused in one line; a destination without room, or dying mid-transfer, leaves the
# source running and its volume untouched.

load helpers
load serve

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
  if [ -n "${CFG:-}" ] && mountpoint -q "$CFG"; then umount "$CFG"; fi
  rm -rf "$ROOT" "$DEST"
}

serve_here() { # extra serve flags...: start_serve on a free loopback port ($port)
  port="$(free_port)"
  start_serve "127.0.0.1:$port" "$@"
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
  serve_here
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

@test "a paused container (frozen in its VM) live-migrates and runs on at the destination, its records all there" {
  serve_here
  start_writer 60
  wait_lines 10
  runx pause c1
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  # Thawed there: it goes on writing, and ends.
  wait_stopped "$DEST" c1
  exactly_once "$DEST/@volumes/c1/3/log" 60
}

@test "with --volume-root, the destination writes the volume back at the source's own path" {
  serve_here --volume-root "$BATS_TEST_TMPDIR/volumes"
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

# What a read-only source is, down to its inodes and times: a write-back would change it.
tree_stamp() { # dir
  find "$1" -printf '%P %i %y %s %T@ %m\n' | sort
}

@test "a checkpoint writes the read-write binds back before it returns, exactly what the image holds; its restore's end writes back again; a read-only bind is never written" {
  RO="$BATS_TEST_TMPDIR/ro"
  mkdir -p "$RO/sub"
  echo r1 >"$RO/f"
  echo r2 >"$RO/sub/g"
  echo created >"$C/note"
  before_ro="$(tree_stamp "$RO")"
  # Each round: a record appended to the volume, the file bind rewritten, then stdout,
  # as fast as it can: nothing may run between the save and the write-back, or the host
  # would hold records the image has not (without the freeze, this fails).
  run_detached "[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$VOL\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/note\",\"type\":\"bind\",\"source\":\"$C/note\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/ro\",\"type\":\"bind\",\"source\":\"$RO\",\"options\":[\"rbind\",\"ro\"]}]" \
    sh -c 'touch /ro/f 2>/dev/null && echo ro-written >&2; i=0; while [ ! -e /data/stop ]; do i=$((i+1)); echo $i >>/data/log; echo $i >/note; echo $i; done; cat /ro/f >/data/ro-seen'
  wait_lines 20
  t0=$(date +%s%N)
  runx --log "$BATS_TEST_TMPDIR/ckpt.log" checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1 2>"$BATS_TEST_TMPDIR/ckpt.err"
  echo "checkpoint took $((($(date +%s%N) - t0) / 1000000)) ms; $(grep -o 'written in.*ms of it' "$BATS_TEST_TMPDIR/ckpt.log")" >&3
  # Right after it returns (the state already says stopped): the host has the writes.
  [ "$(state_field c1 status)" = stopped ]
  [ ! -s "$BATS_TEST_TMPDIR/ckpt.err" ] || { cat "$BATS_TEST_TMPDIR/ckpt.err" >&2; false; }
  cp "$VOL/log" "$BATS_TEST_TMPDIR/log-at-checkpoint"
  host_last="$(tail -n 1 "$VOL/log")"
  exactly_once "$VOL/log" "$host_last"
  [ "$host_last" -ge 20 ]
  note="$(cat "$C/note")"
  # The record and the note are two writes: the freeze may fall between them (or in the note's).
  [ "$note" = "$host_last" ] || [ "$note" = "$((host_last - 1))" ] || [ -z "$note" ]
  [ "$(tree_stamp "$RO")" = "$before_ro" ]
  runx delete c1
  runx restore --detach --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" c1 </dev/null >"$BATS_TEST_TMPDIR/out2" 2>&1
  [ "$(state_field c1 status)" = running ]
  for _ in $(seq 600); do [ "$(wc -l <"$BATS_TEST_TMPDIR/out2")" -ge 10 ] && break; sleep 0.1; done
  runx exec c1 touch /data/stop
  wait_stopped "$ROOT" c1
  # The restored container went on from the image's records: the first it printed is
  # the one after the host's last, or the host's last itself (frozen before its echo).
  first="$(head -n 1 "$BATS_TEST_TMPDIR/out2")"
  [ "$first" -eq "$((host_last + 1))" ] || [ "$first" -eq "$host_last" ] || { echo "host had 1..$host_last at the checkpoint; the restored container printed $first first" >&2; false; }
  # Its end wrote back again: every record once, the ones of before the checkpoint first.
  last="$(tail -n 1 "$VOL/log")"
  [ "$last" -gt "$((host_last + 5))" ]
  exactly_once "$VOL/log" "$last"
  [ "$(cat "$C/note")" = "$last" ]
  [ "$(cat "$VOL/ro-seen")" = r1 ]
  [ "$(tree_stamp "$RO")" = "$before_ro" ]
  ! grep -q ro-written "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/out2"
}

@test "a paused container (containerd pauses first) whose write-back fails (the host's volume full): one warning, the checkpoint stands, its restore writes back at its end" {
  # A small tmpfs as the volume: the container's 2 MiB fit its carry disk, not the host's.
  SMALL="$BATS_TEST_TMPDIR/small"
  mkdir -p "$SMALL"
  mount -t tmpfs -o size=1m tmpfs "$SMALL"
  CFG="$SMALL"
  echo before >"$SMALL/existing"
  run_detached "[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$SMALL\",\"options\":[\"rbind\",\"rprivate\"]}]" \
    sh -c 'dd if=/dev/zero of=/data/big bs=1k count=2048 2>/dev/null; echo written; while [ ! -e /data/stop ]; do sleep 0.2; done; echo after >/data/after'
  wait_lines 1
  runx pause c1
  run --separate-stderr runx --log "$BATS_TEST_TMPDIR/ckpt.log" checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  [ "$status" -eq 0 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "${stderr_lines[0]}" == "runx: warning: checkpoint: the read-write binds were not written back to the host ("*"No space left on device"*"); the image holds the container's writes, and its restore writes them back when it ends" ]]
  [ "$(grep -c 'warn.*not written back to the host' "$BATS_TEST_TMPDIR/ckpt.log")" -eq 1 ]
  [ -f "$BATS_TEST_TMPDIR/img/manifest.json" ]
  [ "$(state_field c1 status)" = stopped ]
  # Nothing half-copied is left in the volume.
  [ "$(ls -A "$SMALL")" = existing ]
  runx delete c1
  mount -o remount,size=8m "$SMALL"
  runx restore --detach --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  [ "$(state_field c1 status)" = running ]
  runx exec c1 touch /data/stop
  wait_stopped "$ROOT" c1
  [ "$(stat -c %s "$SMALL/big")" -eq $((2048 * 1024)) ]
  [ "$(cat "$SMALL/after")" = after ]
  [ "$(cat "$SMALL/existing")" = before ]
}

@test "a bind kept a live share (io.runx.live-share) is refused by checkpoint and migrate in one line naming it; the container runs on" {
  serve_here
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
  serve_here
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
  serve_here
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

# Host -> container refreshes of carried binds after create (docs/mounts.md).

# The kubelet's atomic writer (projected volumes: ConfigMap, Secret): a new timestamped
# directory, ..data swapped to it by rename, then the old directory removed.
kube_update() { # dir value
  local d="$1" new="..2026_$2" old
  old="$(readlink "$d/..data")"
  mkdir "$d/$new"
  echo "$2" >"$d/$new/key"
  # More keys, as a Secret has: the new directory takes the agent a while to copy.
  for i in $(seq 40); do echo "$2" >"$d/$new/key$i"; done
  ln -s "$new" "$d/..data.tmp"
  mv -T "$d/..data.tmp" "$d/..data"
  rm -rf "${d:?}/$old"
}

wait_seen() { # path-in-container value [root] (bounded: 30 tries, ~30 s)
  local got=
  for _ in $(seq 30); do
    got="$("$RUNX_BIN" --root "${3:-$ROOT}" exec c1 cat "$1" 2>&1)" || true
    [ "$got" = "$2" ] && return 0
    sleep 1
  done
  echo "$1 in the container holds \"$got\", not \"$2\", after 30 s" >&2
  return 1
}

run_detached() { # mounts JSON, then the container's args
  local mounts="$1"
  shift
  make_bundle --set mounts="$mounts" -- "$@"
  runx create --bundle "$BUNDLE" c1 </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1
  runx start c1
}

@test "a read-only directory bind follows the host's kubelet-style atomic updates; a reader through ..data never finds it missing" {
  CFG="$BATS_TEST_TMPDIR/cfg"
  # A tmpfs, as the kubelet's Secret volumes are: it lists the newest entry first, so
  # the swapped ..data comes before the directory it points at.
  mkdir -p "$CFG"
  mount -t tmpfs -o size=16m runx-bats-cfg "$CFG"
  mkdir -p "$CFG/..2026_v1"
  echo v1 >"$CFG/..2026_v1/key"
  ln -s ..2026_v1 "$CFG/..data"
  ln -s ..data/key "$CFG/key"
  run_detached "[{\"destination\":\"/etc/cfg\",\"type\":\"bind\",\"source\":\"$CFG\",\"options\":[\"rbind\",\"ro\"]}]" sleep 600
  [ "$(runx exec c1 cat /etc/cfg/key)" = v1 ]
  # Shell builtins only, so it reads as often as it can; it stops at the last value
  # (or after 400000 reads) and says how many reads found ..data/key missing.
  runx exec c1 sh -c 'echo go; n=0; miss=0; v=
    while [ $n -lt 400000 ]; do
      n=$((n+1))
      if [ ! -e /etc/cfg/..data/key ] || ! read -r v </etc/cfg/..data/key; then miss=$((miss+1)); continue; fi
      [ "$v" = v7 ] && break
    done
    echo "reads=$n miss=$miss last=$v"' >"$BATS_TEST_TMPDIR/reader" 2>&1 &
  reader=$!
  for _ in $(seq 300); do grep -q go "$BATS_TEST_TMPDIR/reader" && break; sleep 0.1; done
  grep -q go "$BATS_TEST_TMPDIR/reader"
  for v in v2 v3 v4 v5 v6 v7; do
    kube_update "$CFG" "$v"
    wait_seen /etc/cfg/key "$v"
  done
  # The old timestamped directories are gone in the container too.
  [ "$(runx exec c1 ls -A /etc/cfg | tr '\n' ' ')" = "..2026_v7 ..data key " ]
  for _ in $(seq 600); do kill -0 "$reader" 2>/dev/null || break; sleep 0.1; done
  wait "$reader"
  echo "# reader: $(tail -1 "$BATS_TEST_TMPDIR/reader")" >&3
  grep -q 'miss=0 last=v7' "$BATS_TEST_TMPDIR/reader"
}

@test "a read-write file bind (Docker's /etc/hosts) rewritten in place on the host: the container sees the new content" {
  run_detached "[{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"$C/hosts\",\"options\":[\"rbind\",\"rprivate\"]}]" sleep 600
  [ "$(runx exec c1 cat /etc/hosts)" = "$(cat "$C/hosts")" ]
  ino="$(stat -c %i "$C/hosts")"
  # As dockerd does on `docker network connect`: the same file, new content.
  printf '127.0.0.1 localhost\n10.0.0.5 c1\n10.1.0.7 c1\n' >"$C/hosts"
  [ "$(stat -c %i "$C/hosts")" = "$ino" ]
  wait_seen /etc/hosts "$(cat "$C/hosts")"
}

@test "a read-write directory bind changed on the host is not refreshed; its write-back at the end still works" {
  RO="$BATS_TEST_TMPDIR/ro"
  mkdir -p "$RO"
  echo r1 >"$RO/f"
  run_detached "[{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$VOL\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/ro\",\"type\":\"bind\",\"source\":\"$RO\",\"options\":[\"rbind\",\"ro\"]}]" \
    sh -c 'while [ ! -e /data/stop ]; do sleep 0.2; done; echo mine >/data/written'
  echo host-later >"$VOL/existing"
  echo new >"$VOL/host-new"
  # The read-only bind changed at the same time is refreshed: once it is in, a refresh
  # of the read-write one would have come too.
  echo r2 >"$RO/f"
  wait_seen /ro/f r2
  [ "$(runx exec c1 cat /data/existing)" = before ]
  [ "$(runx exec c1 ls -A /data)" = existing ]
  runx exec c1 touch /data/stop
  wait_stopped "$ROOT" c1
  # The container's copy wins at its end, as docs/mounts.md says.
  [ "$(cat "$VOL/written")" = mine ]
  [ "$(cat "$VOL/existing")" = before ]
  [ ! -e "$VOL/host-new" ]
}

@test "a checkpoint while the host rewrites a read-only bind succeeds; the restored container follows the restoring bundle's source" {
  CFG="$BATS_TEST_TMPDIR/cfg"
  mkdir -p "$CFG/many"
  echo 0 >"$CFG/f"
  # Enough files that a refresh takes a while: one is under way most of the time.
  for i in $(seq 1500); do echo "$i" >"$CFG/many/$i"; done
  run_detached "[{\"destination\":\"/cfg\",\"type\":\"bind\",\"source\":\"$CFG\",\"options\":[\"rbind\",\"ro\"]}]" sleep 600
  wait_seen /cfg/f 0
  # Refreshes come and go while the checkpoint stops and saves the VM (bounded: 400 writes).
  ( for i in $(seq 400); do echo "$i" >"$CFG/f"; sleep 0.02; done ) &
  writer=$!
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  wait "$writer"
  runx delete c1
  runx restore --detach --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  [ "$(state_field c1 status)" = running ]
  echo restored >"$CFG/f"
  wait_seen /cfg/f restored
}

@test "on a migration's destination, a read-only bind placed in its --volume-root follows the host's changes there" {
  CFG="$BATS_TEST_TMPDIR/volumes/cfgvol/_data"
  mkdir -p "$CFG"
  echo before >"$CFG/f"
  serve_here --volume-root "$BATS_TEST_TMPDIR/volumes"
  run_detached "[{\"destination\":\"/cfg\",\"type\":\"bind\",\"source\":\"$CFG\",\"options\":[\"rbind\",\"ro\"]}]" sleep 600
  runx migrate --to "127.0.0.1:$port" --token-file "$BATS_TEST_TMPDIR/token" c1
  [ "$("$RUNX_BIN" --root "$DEST" exec c1 cat /cfg/f)" = before ]
  echo after >"$CFG/f"
  wait_seen /cfg/f after "$DEST"
}

@test "a user's edits deep in a read-only config directory reach the container: a file changed, a directory made, one removed" {
  CFG="$BATS_TEST_TMPDIR/conf"
  mkdir -p "$CFG/a/b" "$CFG/old"
  echo one >"$CFG/a/b/app.conf"
  echo gone >"$CFG/old/x"
  run_detached "[{\"destination\":\"/conf\",\"type\":\"bind\",\"source\":\"$CFG\",\"options\":[\"rbind\",\"ro\"]}]" sleep 600
  [ "$(runx exec c1 cat /conf/a/b/app.conf)" = one ]
  echo two >"$CFG/a/b/app.conf"
  wait_seen /conf/a/b/app.conf two
  mkdir -p "$CFG/a/new/deeper"
  echo made >"$CFG/a/new/deeper/y"
  rm -rf "${CFG:?}/old"
  wait_seen /conf/a/new/deeper/y made
  [ "$(runx exec c1 ls /conf)" = a ]
  # Written into the new directory after its first copy: its own watch sees it.
  echo later >"$CFG/a/new/deeper/z"
  wait_seen /conf/a/new/deeper/z later
}
