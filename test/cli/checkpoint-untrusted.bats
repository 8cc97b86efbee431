#!/usr/bin/env bats
# Checkpoint images are untrusted input (issue #20, #21 items 6 and 15): each attack on
# a crafted image is refused in one line, before anything is created, and nothing
# outside the image is read or written (a victim file keeps its content and mtime,
# no state directory appears). Checkpoint into a directory with planted links writes
# through none of them. One container, checkpointed once (plain and signed), serves
# every test: each test tampers with a copy of the image.

load helpers

setup_file() {
  export FROOT="$BATS_FILE_TMPDIR/root" FBUNDLE="$BATS_FILE_TMPDIR/bundle"
  node "$REPO/test/helpers/make-bundle.mjs" "$FBUNDLE" -- sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done'
  head -c 32 /dev/urandom >"$BATS_FILE_TMPDIR/key-a"
  head -c 32 /dev/urandom >"$BATS_FILE_TMPDIR/key-b"
  "$RUNX_BIN" --root "$FROOT" create --bundle "$FBUNDLE" src </dev/null >/dev/null 2>&1
  "$RUNX_BIN" --root "$FROOT" start src
  "$RUNX_BIN" --root "$FROOT" checkpoint --leave-running --image-path "$BATS_FILE_TMPDIR/good" src
  # (a runx without --sign-key fails the signature test only)
  "$RUNX_BIN" --root "$FROOT" checkpoint --leave-running --sign-key "$BATS_FILE_TMPDIR/key-a" --image-path "$BATS_FILE_TMPDIR/signed" src || true
}

teardown_file() {
  "$RUNX_BIN" --root "$FROOT" delete --force src >/dev/null 2>&1 || true
  rm -rf "$FROOT"
}

setup() {
  ROOT="$(mktemp -d /tmp/runx-bats-root.XXXXXX)"
  IMG="$BATS_TEST_TMPDIR/img"
  VICTIM="$BATS_TEST_TMPDIR/victim"
  printf 'host secret\n' >"$VICTIM"
  touch -d '2020-01-01 00:00:00' "$VICTIM"
  VICTIM_STAMP="$(stat -c '%s %Y' "$VICTIM")"
}

fresh() { # [signed]
  rm -rf "$IMG"
  cp -a --sparse=always "$BATS_FILE_TMPDIR/${1:-good}" "$IMG"
}

# rewrite_manifest NODE-EXPR: runs EXPR on the manifest `m`, then recomputes its digest
# the way anyone can (a plain sha256), as an attacker would.
rewrite_manifest() {
  node -e '
    const fs = require("fs"), crypto = require("crypto");
    const f = process.argv[1], m = JSON.parse(fs.readFileSync(f, "utf8"));
    eval(process.argv[2]);
    delete m.digest; const sig = m.signature; delete m.signature;
    m.digest = crypto.createHash("sha256").update(JSON.stringify(m)).digest("hex");
    if (sig) m.signature = sig;
    fs.writeFileSync(f, JSON.stringify(m));' "$IMG/manifest.json" "$1"
}

# digest_of FILE: the manifest entry an attacker would write for FILE.
entry_of() {
  node -e 'const b=require("fs").readFileSync(process.argv[1]); console.log(JSON.stringify({size:b.length, sha256:require("crypto").createHash("sha256").update(b).digest("hex")}))' "$1"
}

# restore_img [FLAG]...: sets status, output and lines as `run` would. Output goes through
# a file: were a crafted image restored, its keeper would hold a pipe open for good.
restore_img() {
  status=0
  timeout 60 "$RUNX_BIN" --root "$ROOT" restore --image-path "$IMG" --bundle "$FBUNDLE" --detach "$@" r1 </dev/null >"$BATS_TEST_TMPDIR/restore.out" 2>&1 || status=$?
  output="$(cat "$BATS_TEST_TMPDIR/restore.out")"
  mapfile -t lines <<<"$output"
}

restore_ok() {
  "$RUNX_BIN" --root "$ROOT" restore --image-path "$IMG" --bundle "$FBUNDLE" --detach "$@" r1 </dev/null >"$BATS_TEST_TMPDIR/r1.out" 2>&1
}

# refused TEXT: one line with TEXT, exit 1, nothing under --root, the victim untouched.
refused() {
  echo "$output"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"$1"* ]]
  [ -z "$(ls -A "$ROOT")" ]
  [ "$(cat "$VICTIM")" = 'host secret' ]
  [ "$(stat -c '%s %Y' "$VICTIM")" = "$VICTIM_STAMP" ]
}

@test "untrusted image: a symlinked disk is refused, also when the manifest no longer lists it" {
  fresh
  rm "$IMG/rootfs.ext4"; ln -s "$VICTIM" "$IMG/rootfs.ext4"
  restore_img
  refused "rootfs.ext4 is a symbolic link"
  # the reported attack: the manifest forgets the disk, its digest recomputed
  rewrite_manifest 'delete m.files["rootfs.ext4"]'
  restore_img
  refused "manifest.json: does not list rootfs.ext4"
}

@test "untrusted image: a symlinked kernel is refused" {
  fresh
  rm "$IMG/bzImage"; ln -s "$VICTIM" "$IMG/bzImage"
  rewrite_manifest "m.files.bzImage = $(entry_of "$VICTIM")"
  restore_img
  refused "bzImage is a symbolic link"
}

@test "untrusted image: a symlinked vm.state is refused" {
  fresh
  rm "$IMG/vm.state"; ln -s "$VICTIM" "$IMG/vm.state"
  rewrite_manifest "m.files['vm.state'] = $(entry_of "$VICTIM")"
  restore_img
  refused "vm.state is a symbolic link"
}

@test "untrusted image: ../ names in the manifest are refused without touching the host file, and ../../dev/zero does not hang" {
  fresh
  rewrite_manifest "m.files['../../../../../../etc/hostname'] = { size: 1, sha256: '0'.repeat(64) }"
  restore_img
  refused 'lists "../../../../../../etc/hostname", which is not a file of a runx checkpoint image'
  # no size of the host file in the message (the leak of #21 item 15)
  [[ "$output" != *"$(stat -c %s /etc/hostname) bytes"* ]]
  fresh
  rewrite_manifest "m.files['../../dev/zero'] = { size: 1048576, sha256: '0'.repeat(64) }"
  SECONDS=0
  restore_img
  refused 'lists "../../dev/zero"'
  [ "$SECONDS" -lt 30 ]
  fresh
  rewrite_manifest "m.files['sub/vm.state'] = m.files['vm.state']"
  restore_img
  refused 'lists "sub/vm.state"'
}

@test "untrusted image: a file the manifest does not list is refused" {
  fresh
  printf 'x' >"$IMG/vm.ram"
  restore_img
  refused 'holds "vm.ram", which is not a file of a runx checkpoint image'
  rm "$IMG/vm.ram"; mkdir "$IMG/.hidden"
  restore_img
  refused 'holds ".hidden"'
}

@test "untrusted image: a hard link to a file outside the image is refused" {
  fresh
  rm "$IMG/bzImage"; ln "$VICTIM" "$IMG/bzImage"
  rewrite_manifest "m.files.bzImage = $(entry_of "$VICTIM")"
  restore_img
  refused "bzImage has 2 hard links"
}

@test "untrusted image: a file mounted over an image file from another device is refused" {
  fresh
  OTHER="$(mktemp /dev/shm/runx-victim.XXXXXX)"
  cp "$IMG/bzImage" "$OTHER"
  mount --bind "$OTHER" "$IMG/bzImage"
  restore_img
  umount "$IMG/bzImage"
  rm -f "$OTHER"
  refused "bzImage is on another device than its directory"
}

@test "untrusted image: a fifo or a device in place of vm.state is refused at once, not read" {
  fresh
  rm "$IMG/vm.state"; mkfifo "$IMG/vm.state"
  SECONDS=0
  restore_img
  refused "vm.state is a fifo, not a regular file"
  [ "$SECONDS" -lt 30 ]
  rm "$IMG/vm.state"; mknod "$IMG/vm.state" c 1 5 # /dev/zero's numbers
  restore_img
  refused "vm.state is a character device, not a regular file"
}

@test "untrusted image: a changed file under a manifest with a recomputed digest is refused, and its copy removed" {
  fresh
  sed -i 's/sleep 0.2/sleep 0.3/' "$IMG/config.json"
  rewrite_manifest "m.created = new Date().toISOString()"
  restore_img
  refused "config.json does not match its checksum (corrupt)"
  fresh
  printf '\xff' | dd of="$IMG/rootfs.ext4" bs=1 seek=4096 conv=notrunc status=none
  rewrite_manifest "m.created = new Date().toISOString()"
  restore_img
  refused "rootfs.ext4 does not match its checksum (corrupt)"
}

@test "signed image: restores with its key; unsigned, forged and wrong-key images are refused" {
  fresh signed
  [ "$(node -p 'require(process.argv[1]).signature.alg' "$IMG/manifest.json")" = hmac-sha256 ]
  # unsigned
  fresh
  restore_img --verify-key "$BATS_FILE_TMPDIR/key-a"
  refused "the image is not signed, and --verify-key requires a signed image"
  # signature stripped, digest recomputed
  fresh signed
  rewrite_manifest 'delete m.signature'
  restore_img --verify-key "$BATS_FILE_TMPDIR/key-a"
  refused "the image is not signed"
  # altered (digest recomputed, signature kept)
  fresh signed
  rewrite_manifest 'm.container.annotations = { evil: "1" }'
  restore_img --verify-key "$BATS_FILE_TMPDIR/key-a"
  refused "signature verification failed (the manifest was altered)"
  # the wrong key
  fresh signed
  restore_img --verify-key "$BATS_FILE_TMPDIR/key-b"
  refused "signed with another key"
  # a key file too short to be a key
  printf 'short' >"$BATS_TEST_TMPDIR/short"
  restore_img --verify-key "$BATS_TEST_TMPDIR/short"
  refused "a key must have at least 32 bytes"
  # the right key (output to a file: the keeper lives on with the container's stdio)
  fresh signed
  restore_ok --verify-key "$BATS_FILE_TMPDIR/key-a"
  [ "$(state_field r1 status)" = running ]
}

@test "checkpoint into a directory with a planted symlink writes through none of it; files 0600 in a 0700 dir" {
  mkdir -p "$IMG"
  chmod 0777 "$IMG"
  ln -s "$VICTIM" "$IMG/config.json"
  ln -s "$VICTIM" "$IMG/vm.state"
  "$RUNX_BIN" --root "$FROOT" checkpoint --leave-running --image-path "$IMG" src
  [ "$(cat "$VICTIM")" = 'host secret' ]
  [ "$(stat -c '%s %Y' "$VICTIM")" = "$VICTIM_STAMP" ]
  [ ! -L "$IMG/config.json" ] && [ -f "$IMG/config.json" ]
  [ ! -L "$IMG/vm.state" ] && [ -f "$IMG/vm.state" ]
  [ "$(stat -c %a "$IMG")" = 700 ]
  for f in "$IMG"/*; do [ "$(stat -c %a "$f")" = 600 ] || { echo "$f: $(stat -c %a "$f")"; false; }; done
  [ -z "$(ls -A "$IMG" | grep -v -x -e manifest.json -e vm.state -e rootfs.ext4 -e bzImage -e initramfs.cpio -e config.json -e inventory.img)" ]
  # and it is a good image
  restore_ok
  [ "$(state_field r1 status)" = running ]
}

@test "checkpoint refuses an --image-path that is a symlink or holds foreign files, writing nothing" {
  mkdir "$BATS_TEST_TMPDIR/elsewhere"
  ln -s "$BATS_TEST_TMPDIR/elsewhere" "$IMG"
  run "$RUNX_BIN" --root "$FROOT" checkpoint --leave-running --image-path "$IMG" src
  [ "$status" -eq 1 ]
  [[ "$output" == *"is a symbolic link (give the directory itself)"* ]]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR/elsewhere")" ]
  rm "$IMG"; mkdir "$IMG"; printf 'mine\n' >"$IMG/notes.txt"
  run "$RUNX_BIN" --root "$FROOT" checkpoint --leave-running --image-path "$IMG" src
  [ "$status" -eq 1 ]
  [[ "$output" == *'holds "notes.txt", which is not a file of a runx checkpoint image'* ]]
  [ "$(ls -A "$IMG")" = notes.txt ]
  [ "$("$RUNX_BIN" --root "$FROOT" state src | node -p 'JSON.parse(require("fs").readFileSync(0)).status')" = running ]
}

@test "state dir: a launch.json or vm-spec.json naming a host file as the guest kernel gets it copied into no image" {
  # the VM's spec names its kernel (vm-spec.json; launch.json where there is none)
  for f in launch.json vm-spec.json; do if [ -f "$FROOT/src/$f" ]; then cp "$FROOT/src/$f" "$BATS_TEST_TMPDIR/$f.orig"; fi; done
  node -e '
    const fs = require("fs"), [dir, victim] = process.argv.slice(1);
    const l = JSON.parse(fs.readFileSync(dir + "/launch.json", "utf8")); l.qemu.kernel = victim; fs.writeFileSync(dir + "/launch.json", JSON.stringify(l));
    if (fs.existsSync(dir + "/vm-spec.json")) { const s = JSON.parse(fs.readFileSync(dir + "/vm-spec.json", "utf8")); s.kernel = victim; fs.writeFileSync(dir + "/vm-spec.json", JSON.stringify(s)); }' "$FROOT/src" "$VICTIM"
  run "$RUNX_BIN" --root "$FROOT" checkpoint --leave-running --image-path "$IMG" src
  for f in launch.json vm-spec.json; do if [ -f "$BATS_TEST_TMPDIR/$f.orig" ]; then cp "$BATS_TEST_TMPDIR/$f.orig" "$FROOT/src/$f"; fi; done
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == *"names $VICTIM as the guest kernel, which is neither this runx's nor in the container's state directory"* ]]
  [ ! -e "$IMG/bzImage" ]
  ! grep -rqs 'host secret' "$IMG"
}

@test "state dir: a state.json of another id is refused, and steers no write outside its directory" {
  mkdir -p "$ROOT/x" "$BATS_TEST_TMPDIR/victim-dir"
  # its "keeper": a process of ours, which nothing may signal
  sleep 120 </dev/null >/dev/null 2>&1 &
  sleeper=$!
  printf '{"ociVersion":"1.0.2","id":"../../%s","status":"running","bundle":"/","rootfs":"/","created":"now","owner":"","keeperPid":%d}\n' "${BATS_TEST_TMPDIR#/}/victim-dir" "$sleeper" >"$ROOT/x/state.json"
  run "$RUNX_BIN" --root "$ROOT" kill x KILL
  kill_out="$output" kill_status=$status
  run "$RUNX_BIN" --root "$ROOT" delete --force x
  alive=0; kill -0 "$sleeper" && alive=1
  kill "$sleeper" || true
  [ "$kill_status" -eq 1 ]
  [[ "$kill_out" == *'state file'*'is of another container'* ]]
  [ "$(printf '%s\n' "$kill_out" | wc -l)" -eq 1 ]
  [ "$status" -eq 0 ]
  [ ! -e "$ROOT/x" ]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR/victim-dir")" ]
  [ "$alive" -eq 1 ]
}
