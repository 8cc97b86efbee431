#!/usr/bin/env bats
# The spot daemon with the network identity: hosts A and B and a client C are network
# namespaces on one bridge (in a namespace of its own), as in migrate-net.bats, with a
# `runx daemon` each (its own --root; B is A's peer, A is B's). A's daemon watches a
# fake AWS IMDSv2 (test/helpers/fake-imds.mjs, on loopback inside A). A container with
# a NIC runs a counter server over TCP on A; a client keeps one connection. On a spot
# interruption notice A's daemon moves the container to B, live, before the deadline:
# every reply arrives, in order, with the count intact.
#
# The container's namespace path is the same on both hosts (/run/netns/<CA>), as an
# orchestrator making the same-named namespace on each machine would have it: B's
# daemon runs in a mount namespace of its own where that path is bind-mounted to B's
# namespace for the container (CB), so "the same path" names B's own namespace there.
# Only test-made namespaces and 10.233.0.0/24.

load helpers
load netns-hosts
load serve

NET=10.233.0

setup() {
  hosts_vars rxd
  DAEMON_B=
  hosts_bridge
  # B's namespace for the container exists from the start (B's daemon's mount
  # namespace binds it); its interface joins the bridge only just before the notice.
  ip netns add "$CB"
}

teardown() {
  # B's containers from inside B's mount namespace, where their namespace path names CB.
  if [ -n "$DAEMON_B" ] && [ -e "/proc/$DAEMON_B/ns/mnt" ]; then
    for id in $("$RUNX_BIN" --root "$RB" list -q 2>/dev/null); do nsenter --mount="/proc/$DAEMON_B/ns/mnt" "$RUNX_BIN" --root "$RB" delete --force "$id" >/dev/null 2>&1 || true; done
  fi
  hosts_down
}

# daemon_config FILE LISTEN ROOT PEER-NAME PEER-ADDRESS METRICS PROVIDER-JSON
daemon_config() {
  cat >"$1" <<EOF
{ "listen": "$2", "tokenFile": "$BATS_TEST_TMPDIR/token", "root": "$3",
  "provider": $7, "market": "spot", "price": 0.03,
  "metrics": { "listen": "$6" },
  "peers": [ { "name": "$4", "address": "$5", "market": "on-demand", "price": 0.096, "tokenFile": "$BATS_TEST_TMPDIR/token" } ] }
EOF
}

# in_a PATH: GET http://127.0.0.1:7790/PATH from inside A (A's daemon's metrics port)
in_a() {
  ip netns exec "$HA" node -e 'fetch(process.argv[1]).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1) }, (e) => { console.error(String(e)); process.exit(1) })' "http://127.0.0.1:7790/$1"
}

running_on_b() { "$RUNX_BIN" --root "$RB" state c1 2>/dev/null | grep -q '"status": "running"'; }

@test "a notice on host A evacuates its container to B's daemon, live, with the TCP server still answering" {
  T="$BATS_TEST_TMPDIR"
  # A's fake metadata service, on loopback inside A.
  ip netns exec "$HA" node "$REPO/test/helpers/fake-imds.mjs" 127.0.0.1:7780 "$T/notice.json" >"$T/imds.out" 2>"$T/imds.err" &
  PIDS+=($!)
  wait_log "$T/imds.out" listening

  # B's daemon: its own mount namespace, where /run/netns/$CA is B's namespace CB.
  daemon_config "$T/b.json" "$NET.2:7702" "$RB" A "$NET.1:7701" 127.0.0.1:7791 '{ "kind": "none" }'
  unshare -m --propagation private sh -c 'mount --bind "$1" "$2" && exec ip netns exec "$3" "$4" --log "$5" daemon --config "$6"' \
    sh "/run/netns/$CB" "/run/netns/$CA" "$HB" "$RUNX_BIN" "$T/daemon-b.log" "$T/b.json" 2>"$T/daemon-b.err" &
  DAEMON_B=$!
  PIDS+=($!)
  wait_log "$T/daemon-b.log" 'spot daemon started'
  # in there, the container's path is CB
  [ "$(nsenter --mount="/proc/$DAEMON_B/ns/mnt" stat -L -c %i "/run/netns/$CA")" = "$(stat -L -c %i "/run/netns/$CB")" ]

  # A's daemon, watching the fake IMDSv2.
  daemon_config "$T/a.json" "$NET.1:7701" "$RA" B "$NET.2:7702" 127.0.0.1:7790 \
    '{ "kind": "aws", "endpoint": "http://127.0.0.1:7780", "pollSeconds": 1, "requestTimeoutSeconds": 2 }'
  ip netns exec "$HA" "$RUNX_BIN" --log "$T/daemon-a.log" daemon --config "$T/a.json" 2>"$T/daemon-a.err" &
  PIDS+=($!)
  wait_log "$T/daemon-a.log" 'spot daemon started'
  wait_log "$T/imds.err" 'GET /latest/meta-data/spot/instance-action 404'

  make_bundle --set linux.namespaces='[{"type":"pid"},{"type":"network","path":"/run/netns/'"$CA"'"},{"type":"mount"},{"type":"uts"}]' -- sh -c "$SERVER"
  ip netns exec "$HA" "$RUNX_BIN" --root "$RA" create --bundle "$BUNDLE" c1 >"$T/out" 2>&1 </dev/null
  runx start c1
  mac="$(ip -n "$CA" -j link show eth0 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].address))')"

  ip netns exec "$CL" node "$REPO/test/helpers/tcp-client.mjs" "$NET.100" 7000 "$T/client.log" 240 &
  PIDS+=($!)
  wait_replies 10
  # A's daemon manages it; nothing has moved
  run in_a containers
  [ "$status" -eq 0 ]
  [[ "$output" == *'"c1"'* ]]
  [ -z "$("$RUNX_BIN" --root "$RB" list -q)" ]

  # B's namespace for the container joins the bridge (as a CNI ADD there would make it).
  plug "$CB" "$NET.100"
  n="$(replies)"
  # The notice: terminate in two minutes.
  node -e 'console.log(JSON.stringify({ action: "terminate", time: new Date(Date.now() + 120e3).toISOString().replace(/\.\d+Z$/, "Z") }))' >"$T/notice.tmp"
  mv "$T/notice.tmp" "$T/notice.json"

  # Running on B within a bounded wait (not a timed assertion: generous under TCG).
  for _ in $(seq 900); do running_on_b && break; sleep 0.2; done
  running_on_b
  # and the evacuation is over, its report in A's daemon's status
  for _ in $(seq 300); do in_a status >"$T/status.json" 2>/dev/null && grep -q '"lastEvacuation":{' "$T/status.json" && ! grep -q '"evacuating":true' "$T/status.json" && break; sleep 0.2; done
  cat "$T/status.json"
  # one container, moved live to B, inside the notice's deadline
  node -e '
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const r = s.lastEvacuation, o = r && r.outcomes;
    const bad = (why) => { console.error(why); process.exit(1); };
    if (s.evacuating) bad("still evacuating");
    if (!o || o.length !== 1) bad("not one outcome");
    if (o[0].containerId !== "c1" || o[0].path !== "live" || o[0].peer !== "B" || !o[0].withinDeadline) bad("outcome " + JSON.stringify(o[0]));
    if (!(Date.parse(r.finishedAt) <= Date.parse(r.deadline))) bad("finished after the deadline");
  ' "$T/status.json"
  run in_a metrics
  [ "$status" -eq 0 ]
  echo "$output" | grep -E '^runx_spot_'
  echo "$output" | grep -qx 'runx_spot_container_moves_total{path="live"} 1'
  echo "$output" | grep -q '^runx_spot_notices_total{.*} [1-9]'
  [ "$(echo "$output" | grep -c 'runx_spot_container_moves_total{path="\(checkpoint-to-peer\|failed\)"}')" -eq 0 ]

  # A's keeper stands in, annotated with where the container went
  [ "$(state_field c1 status)" = running ]
  [[ "$(state_field c1 annotations)" == *"\"io.runx.migrated-to\":\"$NET.2:7702\""* ]]
  # B's QEMU runs in B's namespace for the container, with the guest's MAC, on the tap
  qb="$(node -e 'console.log(require(process.argv[1]).qemuPid)' "$RB/c1/state.json")"
  in_netns_of "$qb" "$CB"
  [ "$(has_tap "$CB")" -eq 1 ]
  tr '\0' ' ' <"/proc/$qb/cmdline" | grep -q "mac=$mac"

  # The server still answers on the one connection, with its count intact.
  wait_replies $((n + 30))
  [ "$(grep -c CLOSED "$T/client.log")" -eq 0 ]
  # every reply once, in order, counted by the one server process: "k k" for the k-th
  grep -v CLOSED "$T/client.log" | awk '$1 != NR || $2 != NR { print "reply " NR ": " $0; bad = 1; exit } END { exit bad }'
  # and the container's own output, relayed through the stand-in, has no gap
  awk '$1 != NR { print "output line " NR ": " $0; bad = 1; exit } END { if (NR < 40) { print "only " NR " lines"; bad = 1 } exit bad }' "$T/out"
}
