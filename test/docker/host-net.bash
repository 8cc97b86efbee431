# The host network namespace's state that a runtime must never change: links,
# addresses, routes (IPv4 and IPv6) and the disable_ipv6 sysctls of all, default and lo.
# Printed as text, so two snapshots compare with diff. Counters and timers (link stats,
# address lifetimes) are left out: they change by themselves.
host_net_snapshot() {
  ip -o link show | sed -E 's/ link\/(ether|loopback) .*//'
  ip -o addr show | sed -E 's/ valid_lft.*//'
  ip -4 route show table all
  ip -6 route show table all | { grep -v ' expires ' || true; }
  local k
  for k in all default lo; do
    printf 'disable_ipv6 %s=%s\n' "$k" "$(cat "/proc/sys/net/ipv6/conf/$k/disable_ipv6")"
  done
}
