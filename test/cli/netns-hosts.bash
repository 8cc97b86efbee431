# Hosts as network namespaces on one bridge, for the tests that move a container with
# a NIC between them (migrate-net.bats, daemon-net.bats). The caller sets L (the
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
