#!/usr/bin/env bats
# runc's command-line contract as containerd and go-runc use it: --version's shape,
# flag forms, JSON logs, spec, concurrency on one id, and a boot that fails.

load helpers

@test "--version prints runc's three-line shape" {
  run runx --version
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" =~ ^runx\ version\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
  [[ "${lines[1]}" == "commit: "* ]]
  [[ "${lines[2]}" =~ ^spec:\ 1\.[0-9]+\.[0-9]+$ ]]
}

@test "spec writes runc's default config.json and refuses to overwrite it" {
  cd "$BATS_TEST_TMPDIR"
  runx spec
  node -e 'const c=require("./config.json"); if (c.process.args[0]!=="sh"||c.root.path!=="rootfs"||!c.process.terminal) process.exit(1)'
  run runx spec
  [ "$status" -eq 1 ]
  [[ "$output" == *"File config.json exists. Remove it first"* ]]
  runx spec --rootless --bundle "$BUNDLE"
  [ -f "$BUNDLE/config.json" ]
}

@test "single-dash long flags and --flag=value forms parse" {
  make_bundle -- true
  run "$RUNX_BIN" -root "$ROOT" run -bundle="$BUNDLE" -keep c1
  [ "$status" -eq 0 ]
  [ "$(state_field c1 status)" = stopped ]
  run "$RUNX_BIN" --root="$ROOT" --systemd-cgroup delete c1
  [ "$status" -eq 0 ]
}

@test "--log-format json writes the error line containerd's shim reads" {
  run runx --log "$BATS_TEST_TMPDIR/log.json" --log-format json start nope
  [ "$status" -eq 1 ]
  last="$(tail -n 1 "$BATS_TEST_TMPDIR/log.json")"
  node -e 'const l=JSON.parse(process.argv[1]); if (l.level!=="error"||!/does not exist/.test(l.msg)||isNaN(Date.parse(l.time))) process.exit(1)' "$last"
}

@test "the accelerator choice is logged, and --accel tcg is honoured" {
  make_bundle -- true
  runx --log "$BATS_TEST_TMPDIR/log" --accel tcg run --bundle "$BUNDLE" c1
  grep -q "accelerator: tcg (requested with --accel tcg)" "$BATS_TEST_TMPDIR/log"
  run runx --accel warp run --bundle "$BUNDLE" c2
  [ "$status" -eq 1 ]
  [[ "$output" == *"--accel must be auto, kvm or tcg"* ]]
}

@test "concurrent starts of one container: exactly one succeeds" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1
  for i in 1 2 3 4 5; do (runx start c1 >/dev/null 2>&1; echo $? >"$BATS_TEST_TMPDIR/start.$i") & done
  wait
  [ "$(cat "$BATS_TEST_TMPDIR"/start.* | grep -c '^0$')" -eq 1 ]
  [ "$(state_field c1 status)" = running ]
}

@test "concurrent creates of one id: exactly one succeeds, the rest change nothing" {
  make_bundle -- sleep 1000
  for i in 1 2 3; do (runx create --bundle "$BUNDLE" c1 </dev/null >/dev/null 2>&1; echo $? >"$BATS_TEST_TMPDIR/create.$i") & done
  wait
  [ "$(cat "$BATS_TEST_TMPDIR"/create.* | grep -c '^0$')" -eq 1 ]
  [ "$(state_field c1 status)" = created ]
}

@test "concurrent force-deletes of a running container all end cleanly" {
  make_bundle -- sleep 1000
  runx create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1 </dev/null >/dev/null 2>&1
  runx start c1
  for i in 1 2 3; do (runx delete --force c1 >/dev/null 2>&1; echo $? >"$BATS_TEST_TMPDIR/del.$i") & done
  wait
  [ "$(cat "$BATS_TEST_TMPDIR"/del.* | grep -c '^0$')" -eq 3 ]
  [ ! -d "$ROOT/c1" ]
  wait_gone "$(cat "$BATS_TEST_TMPDIR/pid")"
}

@test "a guest that cannot boot fails create with the console tail and leaves nothing" {
  make_bundle -- true
  head -c 4096 /dev/zero >"$BATS_TEST_TMPDIR/initramfs.cpio"
  run env RUNX_INITRAMFS="$BATS_TEST_TMPDIR/initramfs.cpio" RUNX_BOOT_TIMEOUT_MS=20000 "$RUNX_BIN" --root "$ROOT" --boot cold create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"console:"* ]]
  [ -z "$(ls -A "$ROOT" | grep -v '^\.' || true)" ]
}

@test "snapshot boot: a broken template is rebuilt, and no template at all means a cold boot" {
  make_bundle -- sh -c 'echo booted'
  export RUNX_CACHE_DIR="$BATS_TEST_TMPDIR/cache"
  run runx --log "$BATS_TEST_TMPDIR/log" run --bundle "$BUNDLE" c1
  [ "$output" = booted ]
  grep -q "built VM template" "$BATS_TEST_TMPDIR/log"
  grep -q "starting VM from its template" "$BATS_TEST_TMPDIR/log"
  state="$(ls "$RUNX_CACHE_DIR"/templates/*/vm.state)"
  printf 'garbage' | dd of="$state" bs=1 seek=4096 conv=notrunc status=none
  run runx --log "$BATS_TEST_TMPDIR/log2" run --bundle "$BUNDLE" c2
  [ "$output" = booted ]
  grep -q "is broken (vm.state does not match its checksum); rebuilding it" "$BATS_TEST_TMPDIR/log2"
  # a cache that cannot hold a template: cold boot, with a warning
  rm -rf "$RUNX_CACHE_DIR"; echo not-a-dir >"$RUNX_CACHE_DIR"
  run runx --log "$BATS_TEST_TMPDIR/log3" run --bundle "$BUNDLE" c3
  [ "$output" = booted ]
  grep -q "no VM template" "$BATS_TEST_TMPDIR/log3"
  grep -q "booting VM for c3" "$BATS_TEST_TMPDIR/log3"
}

@test "annotation io.runx.boot picks the boot per container over --boot; a bad value fails create in one line" {
  export RUNX_CACHE_DIR="$BATS_TEST_TMPDIR/cache"
  make_bundle --set 'annotations={"io.runx.boot":"cold"}' -- sh -c 'echo booted'
  run runx --log "$BATS_TEST_TMPDIR/log" run --bundle "$BUNDLE" c1
  [ "$output" = booted ]
  grep -q "booting VM for c1" "$BATS_TEST_TMPDIR/log"
  ! grep -q "template" "$BATS_TEST_TMPDIR/log"
  make_bundle --set 'annotations={"io.runx.boot":"snapshot"}' -- sh -c 'echo booted'
  run runx --boot cold --log "$BATS_TEST_TMPDIR/log2" run --bundle "$BUNDLE" c2
  [ "$output" = booted ]
  grep -q "starting VM from its template for c2" "$BATS_TEST_TMPDIR/log2"
  make_bundle --set 'annotations={"io.runx.boot":"warm"}' -- sh -c 'echo booted'
  run runx create --bundle "$BUNDLE" c3
  [ "$status" -eq 1 ]
  [ "$output" = 'runx: config.json: annotations.io.runx.boot must be "snapshot" or "cold", not "warm"' ]
  [ -z "$(runx list -q)" ]
  [ ! -e "$ROOT/c3" ]
}

@test "containers started from one template do not share random state or a stale clock" {
  make_bundle -- sh -c 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; date +%s'
  runx run --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/a"
  runx run --bundle "$BUNDLE" c2 >"$BATS_TEST_TMPDIR/b"
  [ "$(head -n 1 "$BATS_TEST_TMPDIR/a")" != "$(head -n 1 "$BATS_TEST_TMPDIR/b")" ]
  now="$(date +%s)"
  t="$(tail -n 1 "$BATS_TEST_TMPDIR/b")"
  [ $((now - t)) -le 5 ]
  [ $((t - now)) -le 5 ]
}

@test "features prints the runtime-spec features document that matches what runx does" {
  run runx features
  [ "$status" -eq 0 ]
  node -e '
    const f = JSON.parse(process.argv[1]);
    const ok = f.ociVersionMin === "1.0.0" && f.hooks.length === 6 && f.mountOptions.includes("rbind")
      && f.linux.namespaces.includes("pid") && !f.linux.namespaces.includes("user")
      && f.linux.seccomp.enabled && !f.linux.seccomp.actions.includes("SCMP_ACT_NOTIFY")
      && f.linux.capabilities.includes("CAP_SYS_ADMIN") && f.annotations["io.runx.checkpoint.enabled"] === "true";
    process.exit(ok ? 0 : 1)' "$output"
  # and what it refuses, it does not list: a NOTIFY action fails create
  make_bundle --set linux.seccomp='{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getcwd"],"action":"SCMP_ACT_NOTIFY"}]}' -- true
  run runx create --bundle "$BUNDLE" c1
  [ "$status" -eq 1 ]
  [[ "$output" == *"SCMP_ACT_NOTIFY is not supported"* ]]
}
