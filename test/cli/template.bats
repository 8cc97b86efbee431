#!/usr/bin/env bats
# `runx template build|list|prune` on a private cache: real template builds (a VM boot
# each, TCG here), containers started from them, and the prune rules.

load helpers

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  BUNDLE="$BATS_TEST_TMPDIR/bundle"
  mkdir -p "$BUNDLE"
  export RUNX_CACHE_DIR="$BATS_TEST_TMPDIR/cache"
}

# template_field KEY FIELD: a field of KEY's entry in `template list --format json`
template_field() {
  runx template list --format json | node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const e = JSON.parse(s).find((t) => t.name === process.argv[1]);
      const v = e?.[process.argv[2]];
      console.log(v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : v);
    })' "$1" "$2"
}

built_key() { # the key in build's output line
  [[ "$1" =~ VM\ template\ ([0-9a-f]{20})\  ]] && echo "${BASH_REMATCH[1]}"
}

@test "template build builds the default shape's template once; list shows it; create starts from it" {
  run timeout 120 "$RUNX_BIN" template build
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "built VM template "*" (256 MiB, 1 vCPU, "*") in $RUNX_CACHE_DIR/templates/"* ]]
  key="$(built_key "$output")"
  [ -f "$RUNX_CACHE_DIR/templates/$key/vm.state" ]
  run timeout 120 "$RUNX_BIN" template build
  [ "$status" -eq 0 ]
  [ "$output" = "already there: VM template $key (256 MiB, 1 vCPU, $(template_field "$key" accel)) in $RUNX_CACHE_DIR/templates/$key" ]
  [ "$(template_field "$key" status)" = ready ]
  [ "$(template_field "$key" format)" = 3 ]
  [ "$(template_field "$key" devices)" = '{"nic":false,"shares":0}' ]
  [ "$(template_field "$key" shape)" = '{"memoryMiB":256,"vcpus":1}' ]
  [ "$(template_field "$key" sizeBytes)" -gt 1000000 ]
  runx template list | grep -q "^$key  *3  *256M/1cpu/[a-z]*  *none  "
  # a container of the default shape starts from it, and marks it used
  touch -d '3 days ago' "$RUNX_CACHE_DIR/templates/$key"
  make_bundle -- sh -c 'echo booted'
  run runx --debug --log "$BATS_TEST_TMPDIR/log" run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "$output" = booted ]
  grep -q "VM template $key verified" "$BATS_TEST_TMPDIR/log"
  grep -q "starting VM from its template" "$BATS_TEST_TMPDIR/log"
  ! grep -q "built VM template" "$BATS_TEST_TMPDIR/log"
  [ $(($(date +%s) - $(stat -c %Y "$RUNX_CACHE_DIR/templates/$key"))) -lt 60 ]
}

@test "template build --bundle: a 512 MiB config makes a second template, and publishing it prunes stale ones" {
  run timeout 120 "$RUNX_BIN" template build
  [ "$status" -eq 0 ]
  default="$(built_key "$output")"
  mkdir -p "$RUNX_CACHE_DIR/templates/0123456789abcdef0123"
  echo '{"format":1,"key":"0123456789abcdef0123"}' >"$RUNX_CACHE_DIR/templates/0123456789abcdef0123/template.json"
  make_bundle --set linux.resources='{"memory":{"limit":536870912}}' -- true
  run timeout 120 "$RUNX_BIN" template build --bundle "$BUNDLE"
  [ "$status" -eq 0 ]
  [[ "$output" == "built VM template "*" (560 MiB, 1 vCPU, "* ]]
  big="$(built_key "$output")"
  [ "$big" != "$default" ]
  [ "$(template_field "$big" shape)" = '{"memoryMiB":560,"vcpus":1}' ]
  [ "$(template_field "$default" status)" = ready ]
  [ ! -e "$RUNX_CACHE_DIR/templates/0123456789abcdef0123" ]
  run timeout 120 "$RUNX_BIN" template build --bundle "$BUNDLE"
  [ "$output" = "already there: VM template $big (560 MiB, 1 vCPU, $(template_field "$big" accel)) in $RUNX_CACHE_DIR/templates/$big" ]
  # --force builds it again
  created="$(template_field "$big" created)"
  run timeout 120 "$RUNX_BIN" template build --force --bundle "$BUNDLE"
  [ "$status" -eq 0 ]
  [[ "$output" == "built VM template $big "* ]]
  [ "$(template_field "$big" created)" != "$created" ]
}

@test "template build --nic --shares 2; bad values for them are one line" {
  run timeout 120 "$RUNX_BIN" template build --nic --shares 2
  [ "$status" -eq 0 ]
  [[ "$output" == "built VM template "*" (256 MiB, 1 vCPU, "*", nic+9p×2) in "* ]]
  key="$(built_key "$output")"
  [ "$(template_field "$key" devices)" = '{"nic":true,"shares":2}' ]
  runx template list | grep -q "^$key  *3  *256M/1cpu/[a-z]*  *nic+9p×2  "
  # the template's placeholders are gone: only its three files stay
  [ "$(ls "$RUNX_CACHE_DIR/templates/$key" | tr '\n' ' ')" = "template.json verified.json vm.ram vm.state " ]
  # nothing left on the host from its NIC
  [ -z "$(ip -br link | grep tap0_runx || true)" ]
  run runx template build --shares 5
  [ "$status" -eq 1 ]
  [ "$output" = "runx: --shares must be a number from 0 to 4, not '5'" ]
  make_bundle -- true
  run runx template build --bundle "$BUNDLE" --nic
  [ "$status" -eq 1 ]
  [ "$output" = "runx: --nic and --shares are for a template without --bundle: a bundle's config gives its devices" ]
}

@test "containers whose binds are live shares start from a template with one share, each seeing its own host paths; carried binds boot cold" {
  for c in a b; do
    mkdir -p "$BATS_TEST_TMPDIR/$c/dir" "$BATS_TEST_TMPDIR/$c/etc"
    echo "dir of $c" >"$BATS_TEST_TMPDIR/$c/dir/file"
    echo "hosts of $c" >"$BATS_TEST_TMPDIR/$c/etc/hosts"
  done
  for c in a b; do
    make_bundle --set mounts='[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/data","type":"bind","source":"'"$BATS_TEST_TMPDIR/$c/dir"'","options":["rbind"]},{"destination":"/etc/hosts","type":"bind","source":"'"$BATS_TEST_TMPDIR/$c/etc/hosts"'","options":["rbind","ro"]}]' \
      --set annotations='{"io.runx.live-share":"*"}' -- sh -c 'cat /data/file /etc/hosts; echo written >/data/out'
    run --separate-stderr runx --log "$BATS_TEST_TMPDIR/log-$c" run --bundle "$BUNDLE" "c-$c"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "dir of $c" ]
    [ "${lines[1]}" = "hosts of $c" ]
    [ "$(cat "$BATS_TEST_TMPDIR/$c/dir/out")" = written ]
    grep -q "starting VM from its template for c-$c" "$BATS_TEST_TMPDIR/log-$c"
  done
  # one template for both (the first run built it), with one share for all their binds
  grep -q "built VM template" "$BATS_TEST_TMPDIR/log-a"
  run ! grep -q "built VM template" "$BATS_TEST_TMPDIR/log-b"
  key="$(ls "$RUNX_CACHE_DIR/templates" | grep -v '\.json$')"
  [ "$(template_field "$key" devices)" = '{"nic":false,"shares":1}' ]
  # Carried (the default): a carry disk, which no template has, so a cold boot.
  make_bundle --set mounts='[{"destination":"/data","type":"bind","source":"'"$BATS_TEST_TMPDIR/a/dir"'","options":["rbind"]}]' -- cat /data/file
  run --separate-stderr runx --log "$BATS_TEST_TMPDIR/log-carried" run --bundle "$BUNDLE" c-carried
  [ "$status" -eq 0 ]
  [ "$output" = "dir of a" ]
  grep -q "booting VM for c-carried" "$BATS_TEST_TMPDIR/log-carried"
  run ! grep -q "starting VM from its template" "$BATS_TEST_TMPDIR/log-carried"
}

@test "template prune removes stale directories and keeps live ones and the current default" {
  run timeout 120 "$RUNX_BIN" template build
  [ "$status" -eq 0 ]
  default="$(built_key "$output")"
  t="$RUNX_CACHE_DIR/templates"
  mkdir "$t/fmt1" "$t/nomanifest" "$t/old2" "$t/recent2" "$t/abc.tmp-$$" "$t/abc.tmp-999999999"
  echo '{"format":1}' >"$t/fmt1/template.json"
  echo '{"format":3}' >"$t/old2/template.json"
  echo '{"format":3}' >"$t/recent2/template.json"
  head -c 1048576 /dev/urandom >"$t/old2/vm.ram"
  touch -d '8 days ago' "$t/old2" "$t/recent2/template.json"
  touch -d '6 days ago' "$t/recent2"
  # not used for 30 days, but it is the current inputs' default-shape template
  touch -d '30 days ago' "$t/$default"
  run runx template prune
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 4 ]
  [[ "$output" == *"removed fmt1 (format 1, not 3, "* ]]
  [[ "$output" == *"removed nomanifest (template.json is missing or unreadable, "* ]]
  [[ "$output" == *"removed old2 (not used for 8.0 days, 1.0 MiB)"* ]]
  [[ "$output" == *"removed abc.tmp-999999999 (left by pid 999999999, which is gone, "* ]]
  [ "$(ls "$t" | grep -v '\.json$' | sort | tr '\n' ' ')" = "$(printf '%s\n' "$default" "abc.tmp-$$" recent2 | sort | tr '\n' ' ')" ]
  [[ "$(template_field "$default" reason)" == "kept: the current default-shape template (not used for 30.0 days)" ]]
  run runx template prune
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "a template removed after create checked it: the container boots cold" {
  run timeout 120 "$RUNX_BIN" template build
  [ "$status" -eq 0 ]
  key="$(built_key "$output")"
  # a QEMU (the one under test: the wrapper's build is that QEMU's, and so is the
  # template's key) that, when asked to start from a template, finds it pruned just before
  cat >"$BATS_TEST_TMPDIR/qemu" <<EOF
#!/bin/sh
case " \$* " in *" -incoming "*) rm -rf "$RUNX_CACHE_DIR/templates/$key" ;; esac
exec ${RUNX_QEMU:-qemu-system-x86_64} "\$@"
EOF
  chmod +x "$BATS_TEST_TMPDIR/qemu"
  make_bundle -- sh -c 'echo booted'
  run env RUNX_QEMU="$BATS_TEST_TMPDIR/qemu" "$RUNX_BIN" --root "$ROOT" --log "$BATS_TEST_TMPDIR/log" run --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ]
  [ "$output" = booted ]
  grep -q "starting VM from its template for c1" "$BATS_TEST_TMPDIR/log"
  grep -q "VM template removed while this VM started from it" "$BATS_TEST_TMPDIR/log"
  grep -q "booting VM for c1" "$BATS_TEST_TMPDIR/log"
}

@test "template: bad input is one line on stderr and exit 1" {
  run runx template build --bundle "$BATS_TEST_TMPDIR/nowhere"
  [ "$status" -eq 1 ]
  [ "$output" = "runx: cannot read $BATS_TEST_TMPDIR/nowhere/config.json: ENOENT" ]
  make_bundle -- true
  echo '{"ociVersion": "1.0.2",' >"$BUNDLE/config.json"
  run runx template build --bundle "$BUNDLE"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "runx: config.json: malformed JSON: "* ]]
  run runx template list --format yaml
  [ "$status" -eq 1 ]
  [ "$output" = "runx: invalid format option: yaml" ]
  run runx template frobnicate
  [ "$status" -eq 1 ]
  [ "$output" = "runx: unknown template subcommand 'frobnicate': build, list or prune" ]
  run runx template
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  # a build that fails says why: here, a guest that cannot boot
  head -c 4096 /dev/zero >"$BATS_TEST_TMPDIR/initramfs.cpio"
  run env RUNX_INITRAMFS="$BATS_TEST_TMPDIR/initramfs.cpio" timeout 120 "$RUNX_BIN" template build
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "runx: cannot build the VM template (256 MiB, 1 vCPU, "*"): VM exited during boot"* || "$output" == "runx: cannot build the VM template (256 MiB, 1 vCPU, "*"): guest agent did not answer"* ]]
  # and leaves nothing behind
  [ -z "$(ls "$RUNX_CACHE_DIR/templates" | grep -v '\.json$' || true)" ]
}
