#!/usr/bin/env bats
# Bind mounts of host paths (issue 21 items 1-4, issue 15 items 4 and 5): many per
# container, read-only held on the host side, a file bind exposing only that file, no
# QEMU option injection through a path, no escape through symlinks or `..`, host paths
# never taken from a migration's wire or a checkpoint image; and runx's own warnings
# kept out of the container's output stream.

load helpers
load serve

teardown() {
  [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  for r in "$ROOT" ${DEST:+"$DEST"}; do
    for id in $("$RUNX_BIN" --root "$r" list -q 2>/dev/null); do "$RUNX_BIN" --root "$r" delete --force "$id" >/dev/null 2>&1 || true; done
    rm -rf "$r"
  done
}

# The default capabilities and CAP_SYS_ADMIN, in every set.
ADMIN_CAPS='["CAP_SYS_ADMIN","CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_KILL","CAP_SETUID","CAP_SETGID"]'
admin_caps() {
  echo "--set process.capabilities={\"bounding\":$ADMIN_CAPS,\"effective\":$ADMIN_CAPS,\"permitted\":$ADMIN_CAPS}"
}

mounts_json() { # DEST:SOURCE:OPTS... -> the config's mounts (proc first), OPTS comma-separated
  local out='[{"destination":"/proc","type":"proc","source":"proc"}' spec dest src opts
  for spec in "$@"; do
    dest="${spec%%:*}"; spec="${spec#*:}"
    opts="${spec##*:}"; src="${spec%:*}"
    out+=",{\"destination\":\"$dest\",\"type\":\"bind\",\"source\":\"$src\",\"options\":[\"${opts//,/\",\"}\"]}"
  done
  echo "$out]"
}

# No mount anywhere on the host names this test's directory.
host_mounts_clean() {
  ! grep -F "$BATS_TEST_TMPDIR" /proc/self/mountinfo
  ! grep -F "$ROOT" /proc/self/mountinfo
}

@test "32 bind mounts, files and directories, ro and rw, each readable and writable as declared; none in the host mount table" {
  local T="$BATS_TEST_TMPDIR/src" specs=() script='' i
  for i in $(seq 0 31); do
    local mode=rw; ((i % 4 >= 2)) && mode=ro
    if ((i % 2 == 0)); then
      mkdir -p "$T/d$i"; echo "dir $i" >"$T/d$i/f"
      specs+=("/m/d$i:$T/d$i:rbind,$mode")
      script+="cat /m/d$i/f; { echo w$i >/m/d$i/f; } 2>/dev/null && echo wrote-$i; "
    else
      mkdir -p "$T/files$i"; echo "file $i" >"$T/files$i/f"; echo sibling >"$T/files$i/sibling"
      specs+=("/m/f$i:$T/files$i/f:rbind,$mode")
      script+="cat /m/f$i; { echo w$i >/m/f$i; } 2>/dev/null && echo wrote-$i; "
    fi
  done
  make_bundle --set mounts="$(mounts_json "${specs[@]}")" -- sh -c "$script"
  local t0 t1
  t0=$(date +%s%N)
  runx --log "$BATS_TEST_TMPDIR/log" create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" </dev/null
  t1=$(date +%s%N)
  echo "create of a 32-mount container: $(((t1 - t0) / 1000000)) ms" >&3
  host_mounts_clean
  runx start c1
  wait_status c1 stopped 600
  cat "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err"
  [ ! -s "$BATS_TEST_TMPDIR/err" ]
  for i in $(seq 0 31); do
    local what=dir file="$T/d$i/f"
    ((i % 2)) && what=file file="$T/files$i/f"
    grep -qx "$what $i" "$BATS_TEST_TMPDIR/out"
    if ((i % 4 >= 2)); then
      if grep -qx "wrote-$i" "$BATS_TEST_TMPDIR/out"; then echo "read-only mount $i was written"; false; fi
      [ "$(cat "$file")" = "$what $i" ]
    else
      grep -qx "wrote-$i" "$BATS_TEST_TMPDIR/out"
      [ "$(cat "$file")" = "w$i" ]
    fi
  done
  runx delete c1
  host_mounts_clean
}

@test "a read-only bind stays read-only for a CAP_SYS_ADMIN container that remounts it rw" {
  mkdir -p "$BATS_TEST_TMPDIR/ro"
  echo original >"$BATS_TEST_TMPDIR/ro/f"
  make_bundle $(admin_caps) --set mounts="$(mounts_json "/ro:$BATS_TEST_TMPDIR/ro:rbind,ro")" -- sh -c '
    mount -o remount,bind,rw /ro && echo remounted
    echo pwned >/ro/f; echo pwned >/ro/new
    true'
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  echo "$output"; echo "$stderr"
  [ "$status" -eq 0 ]
  # the guest may change its own view of the mount; the host's files stay as they were
  [ "$output" = remounted ]
  [ "$(cat "$BATS_TEST_TMPDIR/ro/f")" = original ]
  [ "$(ls "$BATS_TEST_TMPDIR/ro")" = f ]
}

# exported_files ID: every file QEMU's virtio-9p export holds, seen from QEMU's own
# mount namespace (where the share is staged): the whole of what the guest kernel gets.
exported_files() {
  local pid dir
  pid="$(record_field "$1" qemuPid)"
  dir="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^local,id=runx0,path=\(.*\),security_model=.*/\1/p' | sed 's/,,/,/g')"
  [ -n "$dir" ]
  [[ "$dir" == /* ]] || dir="$(readlink "/proc/$pid/cwd")/$dir"
  (cd "/proc/$pid/root$dir" && find . -type f | sort)
}

@test "a single-file bind exposes only that file, not its directory" {
  mkdir -p "$BATS_TEST_TMPDIR/etc"
  echo "the file" >"$BATS_TEST_TMPDIR/etc/hosts"
  echo "secret sibling" >"$BATS_TEST_TMPDIR/etc/shadow"
  make_bundle --set mounts="$(mounts_json "/etc/hosts:$BATS_TEST_TMPDIR/etc/hosts:rbind,rw")" -- sh -c 'cat /etc/hosts; sleep 600'
  runx create --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
  runx start c1
  run exported_files c1
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = ./0 ]
  for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/out" ] && break; sleep 0.1; done
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "the file" ]
}

@test "a bind source with a comma is shared as exactly that path (no QEMU option injection)" {
  local other="$BATS_TEST_TMPDIR/other" evil="$BATS_TEST_TMPDIR/x,path=$BATS_TEST_TMPDIR/other"
  mkdir -p "$other" "$evil"
  echo wrong >"$other/marker"
  echo right >"$evil/marker"
  make_bundle --set mounts="$(mounts_json "/d:$evil:rbind,rw")" -- sh -c 'cat /d/marker; echo written >/d/out'
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  echo "$output"; echo "$stderr"
  [ "$status" -eq 0 ]
  [ "$output" = right ]
  [ "$(cat "$evil/out")" = written ]
  [ ! -e "$other/out" ]
}

@test "symlinks and .. in a shared directory resolve in the guest, never on the host" {
  local d="$BATS_TEST_TMPDIR/shared" hostonly="$BATS_TEST_TMPDIR/hostonly"
  mkdir -p "$d" "$hostonly"
  echo "host secret" >"$hostonly/secret"
  ln -s /etc "$d/etc"
  ln -s "$hostonly" "$d/hostonly"
  ln -s ../hostonly/secret "$d/up"
  make_bundle $(admin_caps) --set mounts="$(mounts_json "/d:$d:rbind,rw")" -- sh -c '
    cat /d/etc/passwd
    cat /d/hostonly/secret /d/up /d/../../hostonly/secret 2>/dev/null
    mkdir /x && mount -t 9p -o trans=virtio,version=9p2000.L runx0 /x
    cat /x/0/hostonly/secret /x/0/up /x/../hostonly/secret /x/0/../../hostonly/secret 2>/dev/null
    ls -a /x/0/.. /x/..
    true'
  run --separate-stderr runx run --bundle "$BUNDLE" c1
  echo "$output"; echo "$stderr"
  [ "$status" -eq 0 ]
  # /d/etc is the guest's /etc: the bundle's passwd (two users), not the host's
  [ "${lines[0]}" = "root:x:0:0:root:/root:/bin/sh" ]
  [ "${lines[1]}" = "nobody:x:65534:65534:nobody:/:/bin/false" ]
  [[ "$output" != *"host secret"* ]]
}

@test "a migration destination refuses a Prepare whose share_paths are / and /etc, places a config bind of / in its own directory, and refuses another migration or agent protocol" {
  DEST="$(mktemp -d /tmp/runx-bats-dest.XXXXXX)"
  echo "t0ken-$RANDOM$RANDOM" >"$BATS_TEST_TMPDIR/token"
  port="$(free_port)"
  start_serve "127.0.0.1:$port"
  run timeout 90 node "$REPO/test/helpers/hostile-prepare.mjs" "127.0.0.1:$port" "$BATS_TEST_TMPDIR/token" evil '["/","/etc"]'
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "refused: Prepare of evil: share_paths is refused"* ]]
  # nor through the config it sends: a bind of / without the kinds of carried binds is refused,
  run timeout 90 node "$REPO/test/helpers/hostile-prepare.mjs" "127.0.0.1:$port" "$BATS_TEST_TMPDIR/token" evil2 '[]' \
    '[{"destination":"/host","type":"bind","source":"/","options":["rbind"]}]'
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "refused: Prepare of evil2: config_json has 1 bind mount(s) but carried_kinds names 0"* ]]
  # and with them, the bind is placed in runx's own directory, not at /: the serve has
  # no --volume-root. The incoming VM's share stages @volumes/evil3/0, never the host's /.
  DEST_ROOT="$DEST" run timeout 90 node "$REPO/test/helpers/hostile-prepare.mjs" "127.0.0.1:$port" "$BATS_TEST_TMPDIR/token" evil3 '[]' \
    '[{"destination":"/host","type":"bind","source":"/","options":["rbind"]}]' '["dir"]'
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"binds at [\"$DEST/@volumes/evil3/0\"]"* ]]
  [ -z "$("$RUNX_BIN" --root "$DEST" list -q)" ]
  [ ! -e "$DEST/@volumes/evil3" ]
  # a version-1 peer (no carry disk, no stand-in link) is refused before anything is made
  PROTOCOL_VERSION=1 run timeout 90 node "$REPO/test/helpers/hostile-prepare.mjs" "127.0.0.1:$port" "$BATS_TEST_TMPDIR/token" old1 '[]'
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "refused: migration protocol 1 is not spoken here (this runx speaks 2)"* ]]
  [ ! -e "$DEST/old1" ]
  # a VM whose guest agent speaks another protocol than this runx's keeper would
  AGENT_PROTOCOL=1 run timeout 90 node "$REPO/test/helpers/hostile-prepare.mjs" "127.0.0.1:$port" "$BATS_TEST_TMPDIR/token" agent1 '[]'
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == "refused: Prepare of agent1: guest agent protocol 1, but this runx speaks protocol 2"* ]]
  [ ! -e "$DEST/agent1" ]
}

@test "restore takes no share from the image: a manifest share of host / is refused" {
  make_bundle -- sh -c 'while :; do sleep 1; done'
  runx create --bundle "$BUNDLE" c1 >/dev/null 2>&1 </dev/null
  runx start c1
  runx checkpoint --image-path "$BATS_TEST_TMPDIR/img" c1
  # A forged manifest: a share of the host's / (its self-digest made to match).
  node -e '
    const fs = require("fs"); const { digestText } = require(process.argv[2]);
    const f = process.argv[1]; const m = JSON.parse(fs.readFileSync(f, "utf8"));
    m.shares = [{ tag: "runx0", hostPath: "/", readonly: false }];
    delete m.digest; m.digest = digestText(JSON.stringify(m));
    fs.writeFileSync(f, JSON.stringify(m, null, 2));' "$BATS_TEST_TMPDIR/img/manifest.json" "$REPO/dist/checkpoint/file-digest.js"
  # output to a file: a keeper that did start would hold a pipe open
  local rc=0
  runx restore --image-path "$BATS_TEST_TMPDIR/img" --bundle "$BUNDLE" --detach c2 >"$BATS_TEST_TMPDIR/restore.out" 2>&1 </dev/null || rc=$?
  output="$(cat "$BATS_TEST_TMPDIR/restore.out")"
  echo "$output"
  [ "$rc" -eq 1 ]
  [ "$output" = "runx: checkpoint image $BATS_TEST_TMPDIR/img was saved with 1 share device(s); the bundle's config.json gives 0" ]
  [ "$(runx list -q)" = c1 ]
}

@test "runx's warnings stay out of the container's stderr: Podman-like (no --log) and with --log" {
  make_bundle --set 'linux.seccomp={"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["arm_fadvise64_64","sync_file_range2","getpid"],"action":"SCMP_ACT_ALLOW"},{"names":["no_such_syscall"],"action":"SCMP_ACT_ERRNO"}]}' \
    -- sh -c 'echo out; echo err >&2'
  # conmon gives a runtime it does not know no --log: its stderr is the container's
  runx run --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out1" 2>"$BATS_TEST_TMPDIR/err1" </dev/null
  [ "$(cat "$BATS_TEST_TMPDIR/out1")" = out ]
  [ "$(cat "$BATS_TEST_TMPDIR/err1")" = err ]
  # create + start, the keeper holding the container's stderr
  runx create --bundle "$BUNDLE" c2 >"$BATS_TEST_TMPDIR/out2" 2>"$BATS_TEST_TMPDIR/err2" </dev/null
  runx start c2
  wait_status c2 stopped 300
  [ "$(cat "$BATS_TEST_TMPDIR/err2")" = err ]
  runx delete c2
  # with --log the warning is there, and still not in the container's stderr
  runx --log "$BATS_TEST_TMPDIR/log" run --bundle "$BUNDLE" c3 >"$BATS_TEST_TMPDIR/out3" 2>"$BATS_TEST_TMPDIR/err3" </dev/null
  [ "$(cat "$BATS_TEST_TMPDIR/err3")" = err ]
  grep -q "warn seccomp: syscalls unknown on x86_64 are skipped: arm_fadvise64_64 sync_file_range2 no_such_syscall" "$BATS_TEST_TMPDIR/log"
  # a person at a terminal, without --log, still sees it
  timeout 120 script -qec "$RUNX_BIN --root $ROOT run --bundle $BUNDLE c4" /dev/null >"$BATS_TEST_TMPDIR/tty" 2>&1 </dev/null
  grep -q "warn seccomp: syscalls unknown on x86_64 are skipped" "$BATS_TEST_TMPDIR/tty"
}
