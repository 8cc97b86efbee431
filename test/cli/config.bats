#!/usr/bin/env bats
# config.json: what it says holds inside the VM, and a bad one is refused in one line
# with exit 1, naming the field, leaving no state behind.

load helpers

refused() { # expected-text
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"$1"* ]]
  [ -z "$(ls -A "$ROOT" | grep -v '^\.' || true)" ]
}

@test "malformed JSON is refused" {
  make_bundle -- true
  echo '{"ociVersion": "1.0.2", ' >"$BUNDLE/config.json"
  run runx create --bundle "$BUNDLE" c1
  refused "config.json: malformed JSON"
}

@test "an unknown ociVersion major is refused" {
  make_bundle --set ociVersion=2.0.0 -- true
  run runx run --bundle "$BUNDLE" c1
  refused 'ociVersion "2.0.0" is not supported'
}

@test "missing process.args is refused" {
  make_bundle --set process.args=null -- true
  run runx create --bundle "$BUNDLE" c1
  refused "process.args is required"
}

@test "a rootfs that does not exist is refused" {
  make_bundle --set root.path=no-such-dir -- true
  run runx create --bundle "$BUNDLE" c1
  refused 'root.path "no-such-dir" does not exist'
}

@test "a field of the wrong type is refused by the schema" {
  make_bundle --set process.user.uid='"root"' -- true
  run runx create --bundle "$BUNDLE" c1
  refused "process.user.uid"
}

@test "an executable that does not exist fails create and leaves nothing" {
  make_bundle -- /no/such/program
  run runx create --bundle "$BUNDLE" c1
  refused "/no/such/program"
}

@test "args, env, cwd, user, groups, umask, hostname and rlimits hold in the container" {
  make_bundle --set process.env='["PATH=/bin","FOO=bar baz"]' --set process.cwd=/tmp \
    --set process.user='{"uid":1000,"gid":1001,"additionalGids":[5,7],"umask":23}' \
    --set hostname=box1 --set process.rlimits='[{"type":"RLIMIT_NOFILE","soft":321,"hard":654}]' \
    -- sh -c 'echo "$FOO|$(pwd)|$(id -u):$(id -g)|$(id -G)|$(umask)|$(hostname)|$(ulimit -n)|$(ulimit -Hn)|$0"'
  run runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "$output" = "bar baz|/tmp|1000:1001|1001 5 7|0027|box1|321|654|sh" ]
}

@test "noNewPrivileges is set in the container" {
  make_bundle -- sh -c 'grep NoNewPrivs /proc/self/status'
  run runx run --bundle "$BUNDLE" c1
  [[ "$output" == *"NoNewPrivs:"*1 ]]
  make_bundle --set process.noNewPrivileges=false -- sh -c 'grep NoNewPrivs /proc/self/status'
  run runx run --bundle "$BUNDLE" c2
  [[ "$output" == *"NoNewPrivs:"*0 ]]
}

@test "default mounts, masked and read-only paths are in place" {
  make_bundle --set linux.maskedPaths='["/etc/group","/root"]' -- sh -c 'grep -E " (/proc|/dev|/dev/pts|/dev/shm|/dev/mqueue|/sys|/sys/fs/cgroup) " /proc/mounts | cut -d" " -f2,3 | tr "\n" ","; echo; cat /etc/group | wc -c; ls /root | wc -l; echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo writable || echo ro; ls -l /dev/null | cut -c1; ls -l /dev/fd | cut -c1'
  echo secret >"$BUNDLE/rootfs/root/secret"
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "/proc proc,/dev tmpfs,/dev/pts devpts,/dev/shm tmpfs,/dev/mqueue mqueue,/sys sysfs,/sys/fs/cgroup cgroup2," ]
  [ "${lines[1]}" = 0 ]
  [ "${lines[2]}" = 0 ]
  [ "${lines[3]}" = ro ]
  [ "${lines[4]}" = c ]
  [ "${lines[5]}" = l ]
}

@test "a read-only root cannot be written; a writable one can" {
  make_bundle --set root.readonly=true -- sh -c 'touch /newfile && echo wrote || echo refused'
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  [ "$output" = refused ]
  make_bundle -- sh -c 'touch /newfile && echo wrote || echo refused'
  run --separate-stderr runx run --bundle "$BUNDLE" c2
  [ "$output" = wrote ]
}

@test "memory and vCPUs come from linux.resources" {
  make_bundle --set linux.resources='{"memory":{"limit":134217728},"cpu":{"quota":200000,"period":100000}}' \
    -- sh -c 'grep MemTotal /proc/meminfo | tr -s " " | cut -d" " -f2; grep -c ^processor /proc/cpuinfo'
  run runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  # -m is limit + 48 MiB for the guest kernel: MemTotal lands between 140 and 176 MiB
  [ "${lines[0]}" -gt 143360 ]
  [ "${lines[0]}" -lt 180224 ]
  [ "${lines[1]}" -eq 2 ]
}

@test "a host directory bind mount is visible in the container" {
  mkdir -p "$BATS_TEST_TMPDIR/shared"
  echo from-host >"$BATS_TEST_TMPDIR/shared/file"
  make_bundle --set mounts='[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/data","type":"bind","source":"'"$BATS_TEST_TMPDIR/shared"'","options":["rbind","ro"]}]' \
    -- sh -c 'cat /data/file; echo x > /data/new 2>/dev/null && echo writable || echo ro'
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = from-host ]
  [ "${lines[1]}" = ro ]
}

@test "a sysctl whose value holds '..' is applied: only the key is a path" {
  make_bundle --set linux.sysctl='{"kernel.domainname":"a..b","net.ipv4.ip_default_ttl":"77"}' \
    -- sh -c 'cat /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_default_ttl'
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'a..b\n77')" ]
}
