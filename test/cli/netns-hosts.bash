# Hosts as network namespaces on one bridge, for the tests that move a container with
# a NIC between them (migrate-net.bats, daemon-net.bats, migrate-volume.bats). The caller sets L (the
# namespace holding the bridge br0) and its client writes its replies to
# $BATS_TEST_TMPDIR/client.log (test/helpers/tcp-client.mjs).

# plug NS ADDR: a namespace (made unless it exists) whose eth0 (ADDR/24) is a port of the bridge
plug() {
  [ -e "/run/netns/$1" ] || ip netns add "$1"
  ip link add "p$1" netns "$L" type veth peer name eth0 netns "$1"
  ip -n "$L" link set "p$1" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" link set lo up
}

replies() {
  local n
  n="$(grep -c '^[0-9]* [0-9]*$' "$BATS_TEST_TMPDIR/client.log" 2>/dev/null)"
  echo "${n:-0}"
}

# wait_replies N: until the client has N replies (at most 60 s)
wait_replies() {
  for _ in $(seq 300); do [ "$(replies)" -ge "$1" ] && return 0; grep -q CLOSED "$BATS_TEST_TMPDIR/client.log" 2>/dev/null && break; sleep 0.2; done
  echo "client has $(replies) replies, wanted $1; last lines:" >&2
  tail -n 5 "$BATS_TEST_TMPDIR/client.log" >&2
  return 1
}

has_tap() { ip -n "$1" -br link show | grep -c tap0_runx || true; }

in_netns_of() { # pid netns-name
  [ "$(readlink "/proc/$1/ns/net")" = "$(ip netns exec "$2" readlink /proc/self/ns/net)" ]
}

# Reads lines from the one connection; each reply carries the count so far: the
# state the VM keeps in memory, in the shell's variable.
SERVER='nc -l -p 7000 -e sh -c '\''i=0; while read l; do i=$((i+1)); echo "$i $l"; echo "$i $l" >&2; done'\'''

# hosts_vars PREFIX: roots RA and RB (ROOT=RA), the bundle dir, the token file, and the
# namespace names L (bridge), HA, HB (hosts), CL (client), CA, CB (the container's on
# A and B), all starting with PREFIX and our pid.
hosts_vars() {
  RA="$(mktemp -d /tmp/runx-bats-rootA.XXXXXX)"
  RB="$(mktemp -d /tmp/runx-bats-rootB.XXXXXX)"
  ROOT="$RA"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  echo "t0ken-$RANDOM$RANDOM" >"$BATS_TEST_TMPDIR/token"
  chmod 600 "$BATS_TEST_TMPDIR/token" # (readable by others, it is warned about)
  P="$1$$"
  L="${P}L"; HA="${P}A"; HB="${P}B"; CL="${P}C"; CA="${P}CA"; CB="${P}CB"
  PIDS=()
}

# hosts_bridge: the bridge, and HA (.1), HB (.2), CL (.50) and CA (.100) of $NET on it.
hosts_bridge() {
  ip netns add "$L"
  ip -n "$L" link add br0 type bridge
  ip -n "$L" link set br0 up
  plug "$HA" "$NET.1"
  plug "$HB" "$NET.2"
  plug "$CL" "$NET.50"
  plug "$CA" "$NET.100"
}

hosts_up() { # PREFIX
  hosts_vars "$1"
  hosts_bridge
}

# hosts_down [NS...]: ends what the test started (PIDS), deletes both roots' containers,
# and removes the namespaces (with their veths and the bridge), NS... too, and the roots.
hosts_down() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for r in "$RA" "$RB"; do
    for id in $("$RUNX_BIN" --root "$r" list -q 2>/dev/null); do "$RUNX_BIN" --root "$r" delete --force "$id" >/dev/null 2>&1 || true; done
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "$CA" "$CB" "$@" "$CL" "$HA" "$HB" "$L"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$RA" "$RB"
}
