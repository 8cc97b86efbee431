#!/usr/bin/env bats
# config.md / config-linux.md: what the config says holds inside the running container,
# checked from the inside by the checker (checker/checker.c, expectations digested
# from config.json by digest-config.mjs). Several fields per container run: each VM
# boot costs seconds under TCG.

load helpers

@test "checker: runc's default config (make-bundle) holds" {
  checker_bundle
  run_checker "$ID"
  checker_passed 60
  checker_has "Umask is 0022"
  checker_has "CapBnd is 0000000020000420"
  checker_has "/dev/null is a c device 1:3"
  checker_has "/dev/stdout links to /proc/self/fd/1"
  checker_has "the pid namespace is a new one"
  checker_has "/sys has options nosuid,noexec,nodev,ro"
}

@test "checker: process args, env, cwd, uid, gid, additionalGids, umask, noNewPrivileges, rlimits, oomScoreAdj, hostname" {
  checker_bundle --set process.env='["PATH=/bin","A=1","SPACED=x y  z"]' --set process.cwd=/tmp \
    --set process.user='{"uid":1000,"gid":1001,"additionalGids":[7,5,1002],"umask":23}' \
    --set process.noNewPrivileges=false --set hostname=oci-host --set process.oomScoreAdj=345 \
    --set process.rlimits='[{"type":"RLIMIT_NOFILE","soft":321,"hard":654},{"type":"RLIMIT_CORE","soft":0,"hard":4096},{"type":"RLIMIT_NPROC","soft":77,"hard":88}]' \
    --set process.capabilities=null \
    -- arg-one "arg two" ""
  run_checker "$ID"
  checker_passed 30
  checker_has 'args[2] is "arg two"'
  checker_has 'args[3] is ""'
  checker_has "env has SPACED=x y  z"
  checker_has "cwd is /tmp"
  checker_has "uid is 1000"
  checker_has "gid is 1001"
  checker_has "additionalGids are [5,7,1002]"
  checker_has "Umask is 0027"
  checker_has "NoNewPrivs is 0"
  checker_has "RLIMIT_NPROC is 77/88"
  checker_has "oom_score_adj is 345"
  checker_has "hostname is oci-host"
}

@test "checker: capabilities of a root process (bounding, effective, permitted, inheritable, ambient)" {
  checker_bundle --set process.capabilities='{"bounding":["CAP_CHOWN","CAP_KILL","CAP_NET_RAW","CAP_SYS_ADMIN","CAP_SETUID","CAP_SETGID","CAP_SETPCAP"],"effective":["CAP_CHOWN","CAP_KILL","CAP_NET_RAW","CAP_SYS_ADMIN","CAP_SETUID","CAP_SETGID","CAP_SETPCAP"],"permitted":["CAP_CHOWN","CAP_KILL","CAP_NET_RAW","CAP_SYS_ADMIN","CAP_SETUID","CAP_SETGID","CAP_SETPCAP"],"inheritable":["CAP_KILL","CAP_NET_RAW"],"ambient":["CAP_KILL","CAP_CHOWN"]}'
  run_checker "$ID"
  checker_passed 60
  checker_has "CapBnd is 00000000002021e1"
  checker_has "CapInh is 0000000000002020"
  checker_has "CapAmb is 0000000000000020"
}

@test "checker: capabilities of a non-root process come from the ambient set" {
  checker_bundle --set process.user='{"uid":1000,"gid":1000}' \
    --set process.capabilities='{"bounding":["CAP_NET_BIND_SERVICE","CAP_KILL"],"effective":["CAP_NET_BIND_SERVICE","CAP_KILL"],"permitted":["CAP_NET_BIND_SERVICE","CAP_KILL"],"inheritable":["CAP_NET_BIND_SERVICE","CAP_KILL"],"ambient":["CAP_NET_BIND_SERVICE"]}'
  run_checker "$ID"
  checker_passed 60
  checker_has "CapBnd is 0000000000000420"
  checker_has "CapEff is 0000000000000400"
  checker_has "CapAmb is 0000000000000400"
}

@test "checker: root readonly, mounts (type, options, order), maskedPaths, readonlyPaths" {
  mkdir -p "$BUNDLE/data"
  echo from-host >"$BUNDLE/data/file"
  checker_bundle --set root.readonly=true \
    --set mounts='[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},{"destination":"/mnt/ta","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","noexec","ro","size=1m"]},{"destination":"/mnt/tb","type":"tmpfs","source":"tmpfs","options":["rw","nosuid"]},{"destination":"/mnt/ta/nested","type":"tmpfs","source":"tmpfs","options":["nodev"]},{"destination":"/mnt/bind","type":"bind","source":"data","options":["rbind","ro"]},{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]}]' \
    --set linux.maskedPaths='["/etc/passwd","/home","/proc/kcore","/no/such/path"]' \
    --set linux.readonlyPaths='["/root","/proc/sys"]'
  # /mnt/ta/nested needs its mount point inside the read-only tmpfs: the runtime makes
  # mount points before applying ro only for its own, so make it part of the image.
  set_config mounts="$(node -e 'const c=require(process.argv[1]);console.log(JSON.stringify(c.mounts.filter(m=>m.destination!=="/mnt/ta/nested")))' "$BUNDLE/config.json")"
  digest
  run_checker "$ID"
  checker_passed 40
  checker_has "root is read-only"
  checker_has "/mnt/ta has options nosuid,nodev,noexec,ro"
  checker_has "/mnt/tb has options nosuid,rw"
  checker_has "/mnt/bind has options ro"
  checker_has "/mnt/bind is mounted after the mounts before it in the config"
  checker_has "masked /etc/passwd reads nothing"
  checker_has "masked directory /home is empty"
  checker_has "/root is read-only"
}

@test "checker: linux.devices, sysctl, seccomp rules (errno and default errno)" {
  checker_bundle \
    --set linux.devices='[{"path":"/dev/oci-char","type":"c","major":1,"minor":3,"fileMode":416,"uid":1,"gid":2},{"path":"/dev/sub/oci-block","type":"b","major":7,"minor":0,"fileMode":384,"uid":0,"gid":0},{"path":"/dev/oci-fifo","type":"p","fileMode":420}]' \
    --set linux.sysctl='{"net.ipv4.ip_default_ttl":"77","kernel.shmmni":"2048"}' \
    --set linux.seccomp='{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":42},{"names":["mkdir","no_such_syscall"],"action":"SCMP_ACT_ERRNO"}]}'
  run_checker "$ID"
  checker_passed 60
  checker_has "/dev/oci-char is a c device 1:3"
  checker_has "/dev/oci-char has mode 640, owner 1:2"
  checker_has "/dev/sub/oci-block is a b device 7:0"
  checker_has "/dev/oci-fifo is a p device"
  checker_has "sysctl net.ipv4.ip_default_ttl is 77"
  checker_has "sysctl kernel.shmmni is 2048"
  checker_has "Seccomp is 2"
  checker_has "getcwd fails with errno 42"
  checker_has "mkdir fails with errno 1"
}

@test "checker: seccomp defaultAction applies to what no rule allows (noNewPrivileges off)" {
  # getcwd stays allowed: with noNewPrivileges off the filter is in force while the
  # runtime finishes its own setup, and runc's init calls getcwd.
  allow="$(node -e 'const {SYSCALLS_X86_64}=require(process.argv[1]);console.log(JSON.stringify([...SYSCALLS_X86_64.keys()].filter(n=>!["mkdir","rmdir"].includes(n))))' "$REPO/dist/bundle/syscalls-x86_64.js")"
  checker_bundle --set process.noNewPrivileges=false \
    --set linux.seccomp="{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":13,\"syscalls\":[{\"names\":$allow,\"action\":\"SCMP_ACT_ALLOW\"}]}"
  run_checker "$ID"
  checker_passed 60
  checker_has "mkdir fails with errno 13"
  checker_has "rmdir fails with errno 13"
}

@test "checker: namespaces pid, network, ipc, uts, mount, cgroup are new ones" {
  checker_bundle --set linux.namespaces='[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]'
  run_checker "$ID"
  checker_passed 60
  checker_has "PID 1 of its PID namespace"
  for t in pid ipc uts mnt cgroup; do checker_has "the $t namespace is a new one"; done
  checker_has "the network namespace is isolated"
}

@test "checker: rlimits with soft below hard: AS, CORE, DATA, FSIZE, STACK, CPU, NOFILE (runtime-tools process_rlimits)" {
  G=1073741824
  checker_bundle --set process.rlimits="[{\"type\":\"RLIMIT_AS\",\"hard\":$((2*G)),\"soft\":$G},{\"type\":\"RLIMIT_CORE\",\"hard\":$((4*G)),\"soft\":$((3*G))},{\"type\":\"RLIMIT_DATA\",\"hard\":$((6*G)),\"soft\":$((5*G))},{\"type\":\"RLIMIT_FSIZE\",\"hard\":$((8*G)),\"soft\":$((7*G))},{\"type\":\"RLIMIT_STACK\",\"hard\":$((10*G)),\"soft\":$((9*G))},{\"type\":\"RLIMIT_CPU\",\"hard\":120,\"soft\":60},{\"type\":\"RLIMIT_NOFILE\",\"hard\":4000,\"soft\":3000}]"
  run_checker "$ID"
  checker_passed 30
  checker_has "RLIMIT_NOFILE is 3000/4000"
  checker_has "RLIMIT_AS is $G/$((2*G))"
  checker_has "RLIMIT_CPU is 60/120"
}

@test "checker: mounts with a propagation option carry it (shared, slave, private, unbindable, and their r- forms)" {
  mkdir -p "$BUNDLE/data"
  local ms="" p
  for p in shared rshared slave rslave private rprivate unbindable runbindable; do
    ms+="{\"destination\":\"/mnt/p-$p\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"$p\"]},"
  done
  ms+='{"destination":"/mnt/p-bind","type":"bind","source":"data","options":["rbind","rshared"]}'
  checker_bundle
  set_config mounts="$(node -e 'const c=require(process.argv[1]);console.log(JSON.stringify([...c.mounts,...JSON.parse(process.argv[2])]))' "$BUNDLE/config.json" "[$ms]")"
  digest
  run_checker "$ID"
  checker_passed 60
  for p in shared rshared slave rslave private rprivate unbindable runbindable; do
    checker_has "/mnt/p-$p is mounted after"
    checker_has "/mnt/p-$p has propagation ${p#r}"
  done
  checker_has "/mnt/p-bind has propagation shared"
}

@test "checker: linux.rootfsPropagation (shared, slave, private, unbindable) applies to /" {
  local p failed=""
  for p in shared slave private unbindable; do
    rm -rf "$BUNDLE" "$OUT" "$ERR"; mkdir -p "$BUNDLE"
    checker_bundle --set linux.rootfsPropagation="\"$p\""
    run_checker "$ID-$p"
    { checker_passed 60 && checker_has "/ has propagation $p"; } || failed+=" $p"
  done
  [ -z "$failed" ] || { echo "rootfsPropagation not applied:$failed" >&2; return 1; }
}

@test "checker: a user namespace has the config's uid and gid mappings" {
  # runtime-tools' linux_uid_mappings/linux_gid_mappings: container 0 is host 1000.
  checker_bundle --set linux.namespaces='[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"user"}]' \
    --set linux.uidMappings='[{"containerID":0,"hostID":1000,"size":2000}]' \
    --set linux.gidMappings='[{"containerID":0,"hostID":1000,"size":3000}]'
  # runc mounts the rootfs as the mapped root (host uid 1000): bats' private
  # directories above the bundle must let it through.
  local d="$BUNDLE"
  while [ "$d" != / ]; do chmod o+x "$d"; d="$(dirname "$d")"; done
  run_checker "$ID" || { cat "$ERR" >&2; return 1; }
  checker_passed 60
  checker_has "uid_map is [0 1000 2000]"
  checker_has "gid_map is [0 1000 3000]"
  checker_has "uid is 0"
  checker_has "CapBnd is 0000000020000420"
}
