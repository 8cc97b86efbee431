#!/usr/bin/env bats
# config-linux.md "Control groups", read on the host as runtime-tools does
# (validation/linux_cgroups_*, delete_resources): the file of the container's cgroup,
# found by an absolute linux.cgroupsPath below the hierarchy's mount, or for a relative
# one through /proc/<state.pid>/cgroup. In runx state.pid is the keeper, which is in
# the VM's host cgroup with QEMU; README.md says which limits hold there and why.

load helpers

# cgroup_file CONTROLLER FILE: the file in the cgroup of state.pid (v1, or v2's unified).
cgroup_file() {
  local pid line rel
  pid="$(state_field "$ID" pid)"
  if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    rel="$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
    echo "/sys/fs/cgroup$rel/$2"
    return
  fi
  line="$(grep -E "^[0-9]+:([^:]*,)?$1(,[^:]*)?:" "/proc/$pid/cgroup")"
  rel="${line#*:*:}"
  echo "/sys/fs/cgroup/$1$rel/$2"
}

# The parent a relative cgroupsPath names stays (runc and runx remove only the leaf):
# this file's tests remove theirs, in every hierarchy, however the test ended.
teardown() {
  local id
  for id in "${CREATED_IDS[@]}"; do "$RT_BIN" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true; done
  find /sys/fs/cgroup -maxdepth 4 -type d -name "oci-bats-$$*" -exec rmdir {} + 2>/dev/null || true
  [ -n "${RUNTIME_ROOT:-}" ] || rm -rf "$ROOT"
}

pids_max_file() { [ -e /sys/fs/cgroup/cgroup.controllers ] && echo "$1/pids.max" || echo "/sys/fs/cgroup/pids$1/pids.max"; }

@test "cgroups: pids.limit on an absolute cgroupsPath is pids.max there, and delete removes the cgroup (runtime-tools linux_cgroups_pids, delete_resources)" {
  cg="/oci-bats-$$-$BATS_TEST_NUMBER"
  make_bundle --set linux.cgroupsPath="\"$cg\"" --set linux.resources='{"pids":{"limit":1000}}' -- true
  create "$ID"
  [ "$(cat "$(pids_max_file "$cg")")" = 1000 ]
  rt start "$ID"
  wait_status "$ID" stopped
  rt delete "$ID"
  [ ! -e "$(dirname "$(pids_max_file "$cg")")" ]
}

@test "cgroups: pids.limit on a relative cgroupsPath is pids.max in the cgroup of state.pid (runtime-tools linux_cgroups_relative_pids)" {
  rel="oci-bats-$$/cgrouptest-$BATS_TEST_NUMBER"
  make_bundle --set linux.cgroupsPath="\"$rel\"" --set linux.resources='{"pids":{"limit":1000}}' -- sleep 1000
  create "$ID"
  f="$(cgroup_file pids pids.max)"
  [[ "$f" == *"$rel"* ]]
  [ "$(cat "$f")" = 1000 ]
  rt delete --force "$ID"
}
