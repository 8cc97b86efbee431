#!/usr/bin/env bats
# A writer container as Docker makes it (rw file binds of /etc/hosts, resolv.conf and
# hostname, a named volume, a NIC in the container's own namespace) moves between two
# netns hosts (netns-hosts.bash), live by `runx migrate` and by the spot daemon on a
# (fake) AWS interruption notice, with every fsync'd record exactly once in the
# destination's volume; and the bad cases a volume brings: the destination's volume
# path read-only, the destination dying mid-volume-transfer. (No room on the
# destination is carry.bats's.)
#
# The hosts share this machine's filesystem, so each has the engine's volume store at
# the same path ($VROOT, as /var/lib/docker/volumes is on every Docker host) only in
# its own mount namespace: A's is $VROOT itself, B's is $BVOL bound onto $VROOT in
# the mount namespace B's serve (or daemon) runs in. Only test-made namespaces and
# 10.234.0.0/24.

load helpers
load netns-hosts
load serve

NET=10.234.0

setup() {
  hosts_vars rxv
  B_PID=
  hosts_bridge
  T="$BATS_TEST_TMPDIR"
  # What dockerd makes on A: the container's files, and the named volume's _data.
  C="$T/containers/c1"
  VROOT="$T/volumes"
  VOL="$VROOT/myvol/_data"
  BVOL="$T/b-volumes"
  mkdir -p "$C" "$VOL" "$BVOL"
  printf '127.0.0.1 localhost\n%s.100 c1\n' "$NET" >"$C/hosts"
  echo 'nameserver 127.0.0.11' >"$C/resolv.conf"
  echo c1 >"$C/hostname"
  echo before >"$VOL/existing"
  MOUNTS="[{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"$C/hosts\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/etc/resolv.conf\",\"type\":\"bind\",\"source\":\"$C/resolv.conf\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"$C/hostname\",\"options\":[\"rbind\",\"rprivate\"]},
    {\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"$VOL\",\"options\":[\"rbind\",\"rprivate\"]}]"
  # B's mount namespace: its volume store at $VROOT (pairs: source, target).
  B_BINDS=("$BVOL" "$VROOT")
}

teardown() {
  # B's containers from inside B's mount namespace, where their paths are B's.
  if [ -n "$B_PID" ] && [ -e "/proc/$B_PID/ns/mnt" ]; then
    for id in $("$RUNX_BIN" --root "$RB" list -q 2>/dev/null); do on_b "$RUNX_BIN" --root "$RB" delete --force "$id" >/dev/null 2>&1 || true; done
  fi
  hosts_down
  if mountpoint -q "$BVOL/myvol/_data" 2>/dev/null; then umount "$BVOL/myvol/_data"; fi
}

# start_b LOG CMD...: CMD in the background as host B's: in B's network namespace and
# a mount namespace of its own with B_BINDS bound (with what is mounted below them); its pid (CMD's own: each step
# execs the next) in B_PID.
start_b() {
  local log="$1"; shift
  unshare -m --propagation private sh -c 'while [ "$1" != -- ]; do mount --rbind "$1" "$2" || exit 1; shift 2; done; shift; exec ip netns exec "$@"' \
    sh "${B_BINDS[@]}" -- "$HB" "$@" 2>"$log" &
  B_PID=$!
  PIDS+=($!)
}

# on_b CMD...: CMD now, in B's namespaces (those of its serve or daemon)
on_b() { nsenter --mount="/proc/$B_PID/ns/mnt" --net="/proc/$B_PID/ns/net" "$@"; }
rb() { on_b "$RUNX_BIN" --root "$RB" "$@"; }
ra() { ip netns exec "$HA" "$RUNX_BIN" --root "$RA" "$@"; }

serve_b() { # [serve flags...]
  start_b "$T/serve-b.err" "$RUNX_BIN" --root "$RB" serve --listen "$NET.2:7702" --token-file "$T/token" --volume-root "$VROOT" "$@"
  wait_log "$T/serve-b.err" listening 100
}

# The writer: a numbered record appended to the volume and synced, then echoed, until
# /tmp/stop exists; then what it sees of /etc/hosts, into the volume too.
WRITER='i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo $i >>/data/log; sync; echo $i; sleep 0.05; done; cat /etc/hosts >/data/hosts-seen'

# start_writer [extra make_bundle args...]: c1 on A, its NIC in $CA, output in $T/out
start_writer() {
  make_bundle --set mounts="$MOUNTS" --set linux.namespaces='[{"type":"pid"},{"type":"network","path":"/run/netns/'"$CA"'"},{"type":"mount"},{"type":"uts"}]' "$@" -- sh -c "$WRITER"
  ra create --bundle "$BUNDLE" c1 >"$T/out" 2>&1 </dev/null
  ra start c1
}

wait_lines() { # n: the writer has echoed at least n records (bounded: 60 s)
  for _ in $(seq 600); do [ "$(wc -l <"$T/out")" -ge "$1" ] && return 0; sleep 0.1; done
  echo "only $(wc -l <"$T/out") records after 60 s" >&2
  return 1
}

status_of() { # runx-function id
  "$1" state "$2" 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).status)}catch{}})'
}

wait_stopped() { # runx-function id (bounded: 120 s)
  for _ in $(seq 1200); do [ "$(status_of "$1" "$2")" = stopped ] && return 0; sleep 0.1; done
  echo "$2 ($1) did not stop: $(status_of "$1" "$2")" >&2
  return 1
}

# wait_seen runx-function path value: the container reads value at path (bounded: ~30 s)
wait_seen() {
  local got=
  for _ in $(seq 30); do
    got="$("$1" exec c1 cat "$2" 2>&1)" || true
    [ "$got" = "$3" ] && return 0
    sleep 1
  done
  echo "$2 in the container holds \"$got\", not \"$3\", after 30 s" >&2
  return 1
}

exactly_once() { # file count: records 1..count, each once, in order
  diff <(seq "$2") "$1" >/dev/null || { echo "$1: $(wc -l <"$1") lines, not 1..$2 once each" >&2; sort -n "$1" | uniq -d | head -3 >&2; return 1; }
}

# The source host's volume as at create (its entries: VOL_LS, default "existing").
vol_untouched() {
  [ "$(ls -A "$VOL" | tr '\n' ' ')" = "${VOL_LS:-existing} " ] || { ls -la "$VOL" >&2; return 1; }
  [ "$(cat "$VOL/existing")" = before ]
}

# No mount of a root, or under the test's directory, in this mount namespace or B's,
# but B's own volume store.
no_mounts() {
  local m
  m="$( (cat /proc/self/mountinfo; [ -z "$B_PID" ] || cat "/proc/$B_PID/mountinfo") | grep -e "$RA" -e "$RB" -e "$T" | grep -v " $VROOT " || true)"
  [ -z "$m" ] || { echo "left mounted: $m" >&2; return 1; }
}

# The record-writer moved to B, then stopped there: every record once in B's volume
# (and after `runx delete` on both hosts), nothing of it left on either host.
# $1: B's updated /etc/hosts, which the writer's last read must show.
assert_moved_and_ended() {
  local hosts_b="$1" qa="$2" qb="$3" k
  rb exec c1 touch /tmp/stop
  wait_stopped rb c1
  wait_stopped ra c1
  k="$(tail -n 1 "$BVOL/myvol/_data/log")"
  echo "# $k records" >&3
  exactly_once "$BVOL/myvol/_data/log" "$k"
  # what the container wrote out, relayed to A through its stand-in, is the same
  exactly_once "$T/out" "$k"
  [ "$(cat "$BVOL/myvol/_data/existing")" = before ]
  [ "$(cat "$BVOL/myvol/_data/hosts-seen")" = "$hosts_b" ]
  vol_untouched
  rb delete c1
  ra delete c1
  # delete keeps the volume, as an engine keeps a named volume
  exactly_once "$BVOL/myvol/_data/log" "$k"
  [ ! -e "$RA/c1" ] && [ ! -e "$RB/c1" ]
  # (the roots' lock directories, and a daemon's @spot, stay as the roots do)
  [ -z "$(ls -A "$RA" | grep -vx -e @locks -e @spot)" ] || { ls -A "$RA" >&2; false; }
  [ -z "$(ls -A "$RB" | grep -vx -e @locks -e @spot -e @volumes)" ] || { ls -A "$RB" >&2; false; }
  wait_gone "$qa" 100
  wait_gone "$qb" 100
  [ "$(has_tap "$CA")" -eq 0 ] && [ "$(has_tap "$CB")" -eq 0 ]
  no_mounts
}

# writer_moves MOVER: the writer starts on A; A's engine rewrites its /etc/hosts; MOVER
# moves it to B (its NIC into $CB) and returns once it runs there; then B's engine
# rewrites B's copy; it ends there. Every record once in B's volume, A's as at create,
# each update seen by the container, nothing left on either host.
writer_moves() {
  local qa qb n
  start_writer
  qa="$(record_field c1 qemuPid)"
  wait_lines 10
  # A's dockerd rewrites /etc/hosts in place (docker network connect): the container sees it.
  printf '127.0.0.1 localhost\n%s.100 c1\n10.1.0.7 c1-a\n' "$NET" >"$C/hosts"
  wait_seen ra /etc/hosts "$(cat "$C/hosts")"
  n="$(wc -l <"$T/out")"
  "$1"
  [ "$(status_of rb c1)" = running ]
  qb="$(node -e 'console.log(require(process.argv[1]).qemuPid)' "$RB/c1/state.json")"
  in_netns_of "$qb" "$CB"
  [ "$(has_tap "$CB")" -eq 1 ]
  # the NIC works at B: the guest answers from its address
  ip netns exec "$CL" busybox ping -c 1 -W 5 "$NET.100" >/dev/null
  # the volume was placed at its own path in B's store, the file binds in B's runx dir
  [ -d "$BVOL/myvol/_data" ] && [ -f "$RB/@volumes/c1/0" ]
  wait_lines $((n + 20))
  # The container came with A's updated file; B's engine rewrites B's (its placed
  # file) in place: that reaches the container too.
  [ "$(rb exec c1 cat /etc/hosts)" = "$(cat "$C/hosts")" ]
  printf '127.0.0.1 localhost\n%s.100 c1\n10.2.0.9 c1-b\n' "$NET" >"$RB/@volumes/c1/0"
  wait_seen rb /etc/hosts "$(cat "$RB/@volumes/c1/0")"
  wait_lines $((n + 30))
  assert_moved_and_ended "$(cat "$RB/@volumes/c1/0")" "$qa" "$qb"
}

by_migrate() {
  run ra migrate --to "$NET.2:7702" --token-file "$T/token" --netns "/run/netns/$CB" c1
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"c1 now runs at $NET.2:7702"* ]]
}

@test "a Docker-like writer with a NIC live-migrates between two netns hosts: every fsync'd record once in B's volume, A's untouched, host-file updates reach it before and after" {
  # B's namespace for the container, made as a CNI ADD there would make it.
  plug "$CB" "$NET.100"
  serve_b
  writer_moves by_migrate
}

# daemon_config FILE LISTEN ROOT PEER-NAME PEER-ADDRESS PROVIDER-JSON [MORE-FIELDS,]
daemon_config() {
  cat >"$1" <<EOF
{ "listen": "$2", "tokenFile": "$T/token", "root": "$3",
  "provider": $6, "market": "spot", "price": 0.03, ${7:-}
  "peers": [ { "name": "$4", "address": "$5", "market": "on-demand", "price": 0.096 } ] }
EOF
}

# The fake AWS notice to A's daemon; back once the container runs on B and A's
# daemon reports it moved live, within the notice's deadline.
by_notice() {
  node -e 'console.log(JSON.stringify({ action: "terminate", time: new Date(Date.now() + 120e3).toISOString().replace(/\.\d+Z$/, "Z") }))' >"$T/notice.tmp"
  mv "$T/notice.tmp" "$T/notice.json"
  for _ in $(seq 300); do
    ip netns exec "$HA" node -e 'fetch("http://127.0.0.1:7790/status").then(async (r) => { process.stdout.write(await r.text()) })' >"$T/status.json" 2>/dev/null || true
    grep -q '"lastEvacuation":{' "$T/status.json" && ! grep -q '"evacuating":true' "$T/status.json" && break
    sleep 0.2
  done
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const o = s.lastEvacuation && s.lastEvacuation.outcomes;
    if (!o || o.length !== 1 || o[0].containerId !== "c1" || o[0].path !== "live" || o[0].peer !== "B" || !o[0].withinDeadline) { console.error(JSON.stringify(s)); process.exit(1); }
  ' "$T/status.json"
}

@test "the spot daemon evacuates the writer on a (fake) AWS interruption notice to its peer's daemon on B: every record once in B's volume (its volumeRoots), updates before and after" {
  # B's daemon sees the container's namespace path /run/netns/$CA as B's own (CB), as
  # hosts naming namespaces alike would (daemon-net.bats), and its volume store at $VROOT.
  ip netns add "$CB"
  B_BINDS+=("/run/netns/$CB" "/run/netns/$CA")
  daemon_config "$T/b.json" "$NET.2:7702" "$RB" A "$NET.1:7701" '{ "kind": "none" }' "\"volumeRoots\": [\"$VROOT\"], \"metrics\": { \"listen\": \"127.0.0.1:7791\" },"
  start_b "$T/daemon-b.err" "$RUNX_BIN" --log "$T/daemon-b.log" daemon --config "$T/b.json"
  wait_log "$T/daemon-b.log" 'spot daemon started'
  ip netns exec "$HA" node "$REPO/test/helpers/fake-imds.mjs" 127.0.0.1:7780 "$T/notice.json" >"$T/imds.out" 2>"$T/imds.err" &
  PIDS+=($!)
  wait_log "$T/imds.out" listening
  daemon_config "$T/a.json" "$NET.1:7701" "$RA" B "$NET.2:7702" \
    '{ "kind": "aws", "endpoint": "http://127.0.0.1:7780", "pollSeconds": 1, "requestTimeoutSeconds": 2 }' '"metrics": { "listen": "127.0.0.1:7790" },'
  ip netns exec "$HA" "$RUNX_BIN" --log "$T/daemon-a.log" daemon --config "$T/a.json" 2>"$T/daemon-a.err" &
  PIDS+=($!)
  wait_log "$T/daemon-a.log" 'spot daemon started'
  wait_log "$T/imds.err" 'GET /latest/meta-data/spot/instance-action 404'
  # B's namespace for the container joins the bridge just before the notice (as a CNI
  # ADD there would make it): two live stacks with one address are never both there.
  plug "$CB" "$NET.100"
  writer_moves by_notice
}

# refused_clean OUTPUT-FILE [ENTRY]: the migration failed in one line; the source runs
# on with its volume as at create; B keeps nothing of it (but ENTRY of its volume store)
refused_clean() {
  [ "$(wc -l <"$1")" -eq 1 ] || { cat "$1" >&2; false; }
  [ "$(status_of ra c1)" = running ]
  [[ "$(ra state c1)" != *migrated-to* ]]
  vol_untouched
  for _ in $(seq 100); do [ ! -e "$RB/c1" ] && break; sleep 0.1; done
  [ ! -e "$RB/c1" ]
  [ ! -e "$RB/@volumes/c1" ] || { find "$RB/@volumes" >&2; false; }
  # what Prepare made in B's volume store is gone too
  [ -z "$(ls -A "$BVOL" | grep -vx "${2:-}")" ] || { find "$BVOL" >&2; false; }
  [ "$(has_tap "$CB")" -eq 0 ]
  [ -z "$(pgrep -f "$RB/c1/" || true)" ]
}

# stop_writer_on_a: the source ends its writer: every record once in A's volume
stop_writer_on_a() {
  local k
  ra exec c1 touch /tmp/stop
  wait_stopped ra c1
  k="$(tail -n 1 "$VOL/log")"
  exactly_once "$VOL/log" "$k"
  exactly_once "$T/out" "$k"
}

@test "a destination whose volume path is read-only refuses Prepare in one line: the source runs on, its volume untouched, B clean" {
  # B's volume for it exists, on a read-only mount (a full or failing disk remounted ro).
  mkdir -p "$BVOL/myvol/_data"
  mount --bind "$BVOL/myvol/_data" "$BVOL/myvol/_data"
  mount -o remount,bind,ro "$BVOL/myvol/_data"
  plug "$CB" "$NET.100"
  serve_b
  start_writer
  wait_lines 5
  run ra migrate --to "$NET.2:7702" --token-file "$T/token" --netns "/run/netns/$CB" c1
  echo "$output" >"$T/mig.out"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"Prepare of c1: mounts[3] (/data): $VOL is not writable here (EROFS: read-only file system)"* ]]
  refused_clean "$T/mig.out" myvol
  [ -z "$(ls -A "$BVOL/myvol/_data")" ]
  stop_writer_on_a
}

@test "host B dying mid-volume-transfer (its serve killed -9 while the carry disk's mirror runs): the source runs on, its volume untouched, B keeps nothing" {
  # 96 MiB in the volume, so its mirror takes a while.
  head -c $((96 * 1024 * 1024)) /dev/urandom >"$VOL/big"
  sum="$(sha256sum <"$VOL/big")"
  VOL_LS="big existing"
  plug "$CB" "$NET.100"
  serve_b
  start_writer
  wait_lines 5
  ra migrate --to "$NET.2:7702" --token-file "$T/token" --netns "/run/netns/$CB" c1 >"$T/mig.out" 2>&1 &
  mig=$!
  PIDS+=($mig)
  # Mid-transfer: B's copy of the carry disk has part of the volume.
  got=0
  for _ in $(seq 600); do
    got="$(du -B1 "$RB/c1/carry.ext4" 2>/dev/null | cut -f1)" || true
    [ "${got:-0}" -ge $((24 * 1024 * 1024)) ] && break
    sleep 0.05
  done
  echo "# B's carry disk at the kill: $((${got:-0} / 1024 / 1024)) MiB" >&3
  [ "${got:-0}" -ge $((24 * 1024 * 1024)) ]
  [ "${got:-0}" -lt $((96 * 1024 * 1024)) ]
  qb="$(node -e 'console.log(require(process.argv[1]).qemuPid)' "$RB/c1/state.json")"
  kill -9 "$B_PID"
  st=0
  wait "$mig" || st=$?
  [ "$st" -eq 1 ]
  grep -q "failed before switch-over (the container runs on here)" "$T/mig.out"
  wait_gone "$qb" 100
  refused_clean "$T/mig.out"
  [ "$(sha256sum <"$VOL/big")" = "$sum" ]
  B_PID=
  stop_writer_on_a
}
