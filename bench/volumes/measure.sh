#!/usr/bin/env bash
# Measurements behind issue 16's design (carried volumes: a bind mount's directory
# copied at create into an extra ext4 disk on virtio-blk, written back at exit).
# Everything is measured in alternated pairs (A B A B ..., the order flipped each
# round) so the ratios hold on a shared, noisy machine. Sections:
#   writer  a database-like writer in a runx container (TCG): N numbered 4 KiB records
#           appended, fsync(2) after each (fsync-writer.c, static musl), on a 9p bind
#           mount vs on the root disk (virtio-blk ext4, the carried disk's device);
#           then dd bs=1M count=128 conv=fsync on both. Figures: the guest's own clock.
#   fill    host: mkfs.ext4 -d of a 128 MiB directory (4 big files; 5,000 small files)
#           into a 256 MiB image, without a journal / default journal / -J size=16,
#           against cp -a of the same directory (and cp -a + fsync of every file).
#   cache   the writer on the root disk with QEMU's -drive cache=unsafe / writeback /
#           none. Needs a runx built with root-cache-env.patch (the root disk's cache
#           mode from $RUNX_BENCH_ROOT_CACHE); skipped, with a note, otherwise.
#   mirror  raw QEMU drive-mirror (raw-mirror.mjs) of a 256 MiB sparse raw disk with
#           128 MiB written to a second QEMU's NBD export on loopback, against
#           cp --sparse=always of the same file (and cp + fsync).
# Usage: bench/volumes/measure.sh [SECTION...]   (default: all four)
# Knobs: ROUNDS (3), RECORDS (500), RUNX_BIN (dist/runx), RUN_TIMEOUT_S (300).
# Output: lines "section case figure value" on stdout, a summary (median, min, max of
# each figure and of each pair's ratio) at the end. Cleans up its containers, QEMUs
# and temp directory on exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
RUNX_BIN="${RUNX_BIN:-$repo/dist/runx}"
rounds="${ROUNDS:-3}"
records="${RECORDS:-500}"
run_timeout="${RUN_TIMEOUT_S:-300}"
sections=("$@"); [ ${#sections[@]} -gt 0 ] || sections=(writer fill cache mirror)
work="$(mktemp -d /tmp/runx-bench-vol.XXXXXX)"
root="$work/runx-root"
results="$work/results"; : >"$results"

cleanup() {
  for id in $("$RUNX_BIN" --root "$root" list -q 2>/dev/null); do "$RUNX_BIN" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }
now_s() { echo "$EPOCHREALTIME"; }
res() { echo "$*" | tee -a "$results"; }

# ---- the container bundle: busybox + fsync-writer, a bind mount at /data ------------
bundle="$work/bundle"; hostdir="$work/host"; mkdir -p "$hostdir"
make_bundle() {
  node "$repo/test/helpers/make-bundle.mjs" "$bundle" \
    --set 'mounts=[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},{"destination":"/data","type":"bind","source":"'"$hostdir"'","options":["rbind","rw"]}]' \
    -- sh /bin/job
  musl-gcc -static -O2 -o "$bundle/rootfs/bin/fsync-writer" "$here/fsync-writer.c"
}
# run_job NAME SCRIPT: runs SCRIPT (sh) as the container's process; its stdout on ours.
run_job() {
  local seq_id="$RANDOM$RANDOM"
  printf '%s\n' "$2" >"$bundle/rootfs/bin/job"
  rm -rf "${hostdir:?}"/*
  timeout "$run_timeout" "$RUNX_BIN" --root "$root" run -b "$bundle" "vb$$-$seq_id" </dev/null \
    || { log "$1: container failed"; "$RUNX_BIN" --root "$root" delete --force "vb$$-$seq_id" >/dev/null 2>&1 || true; return 1; }
  "$RUNX_BIN" --root "$root" delete --force "vb$$-$seq_id" >/dev/null 2>&1 || true
}
# In-guest snippets: "fsync DEV RPS" and "dd DEV SECONDS".
fsync_line() { echo "fsync-writer $2/log $records | sed 's/^records [0-9]* secs [0-9.]* rps /fsync $1 /'; rm -f $2/log"; }
# (busybox dd prints no timing here: the guest's /proc/uptime, 10 ms steps, around it)
dd_line() { echo "read t0 x </proc/uptime; dd if=/dev/zero of=$2/big bs=1M count=128 conv=fsync 2>/dev/null; read t1 x </proc/uptime; echo dd $1 \$(echo \$t0 \$t1 | awk '{print \$2-\$1}'); rm -f $2/big"; }

section_writer() {
  log "writer: $rounds containers, each: 2 fsync pairs ($records records) + 1 dd pair, 9p vs blk"
  local r out a b
  for ((r = 0; r < rounds; r++)); do
    if ((r % 2 == 0)); then a="9p /data"; b="blk /root"; else a="blk /root"; b="9p /data"; fi
    out="$(run_job writer "$(fsync_line $a); $(fsync_line $b); $(fsync_line $b); $(fsync_line $a); $(dd_line $a); $(dd_line $b)")" || continue
    while read -r kind dev v; do
      case "$kind" in fsync) res "writer fsync-$dev records/s $v";; dd) res "writer dd128-$dev seconds $v";; esac
    done <<<"$out"
  done
}

section_cache() {
  local modes=(unsafe writeback none) r i m out
  # Does this runx honour RUNX_BENCH_ROOT_CACHE? (root-cache-env.patch)
  if ! grep -aq RUNX_BENCH_ROOT_CACHE "$RUNX_BIN" 2>/dev/null && ! grep -rq RUNX_BENCH_ROOT_CACHE "$repo/dist/xcontainer/vm/qemu-argv.js" 2>/dev/null; then
    log "cache: skipped: $RUNX_BIN does not read RUNX_BENCH_ROOT_CACHE (git apply bench/volumes/root-cache-env.patch && npm run build)"; return 0
  fi
  log "cache: $rounds rounds of ${modes[*]} (order rotated), writer on the root disk"
  for ((r = 0; r < rounds; r++)); do
    for ((i = 0; i < 3; i++)); do
      m="${modes[$(((i + r) % 3))]}"
      out="$(RUNX_BENCH_ROOT_CACHE=$m run_job "cache $m" "$(fsync_line blk /root); $(fsync_line blk /root); $(dd_line blk /root)")" || continue
      while read -r kind dev v; do
        case "$kind" in fsync) res "cache fsync-$m records/s $v";; dd) res "cache dd128-$m seconds $v";; esac
      done <<<"$out"
    done
  done
}

section_fill() {
  local src="$work/fill-src" img="$work/fill.img" dst="$work/fill-cp" set r i v t0 t1
  mkdir -p "$src/big" "$src/small"
  for i in 1 2 3 4; do head -c $((32 * 1024 * 1024)) /dev/urandom >"$src/big/f$i"; done
  head -c $((5000 * 26843)) /dev/urandom >"$work/blob"
  for ((i = 0; i < 5000; i++)); do mkdir -p "$src/small/d$((i / 100))"; done
  split -a 4 -d -b 26843 "$work/blob" "$src/small/x"
  for ((i = 0; i < 5000; i++)); do mv "$src/small/x$(printf %04d "$i")" "$src/small/d$((i / 100))/f$i"; done
  rm -f "$work/blob"; sync "$src"/big/* 
  local variants=(cp cp+fsync mkfs-nojournal mkfs-journal mkfs-J16)
  log "fill: $rounds rounds of ${variants[*]} (order rotated), 128 MiB as 4 files and as 5,000 files"
  for set in big small; do
    for ((r = 0; r < rounds; r++)); do
      for ((i = 0; i < ${#variants[@]}; i++)); do
        v="${variants[$(((i + r) % ${#variants[@]}))]}"
        rm -rf "$dst" "$img"
        t0="$(now_s)"
        case "$v" in
          cp) cp -a "$src/$set" "$dst";;
          cp+fsync) cp -a "$src/$set" "$dst" && find "$dst" -type f -exec sync {} + && sync "$dst";;
          mkfs-nojournal) mkfs.ext4 -q -F -t ext4 -O ^has_journal -E lazy_itable_init=1,nodiscard -d "$src/$set" "$img" 256M >/dev/null;;
          mkfs-journal) mkfs.ext4 -q -F -t ext4 -E lazy_itable_init=1,nodiscard -d "$src/$set" "$img" 256M >/dev/null;;
          mkfs-J16) mkfs.ext4 -q -F -t ext4 -J size=16 -E lazy_itable_init=1,nodiscard -d "$src/$set" "$img" 256M >/dev/null;;
        esac
        t1="$(now_s)"
        res "fill $set-$v seconds $(echo "$t1 - $t0" | bc -l | sed 's/^\./0./')"
      done
    done
  done
  rm -rf "$dst" "$img" "$src"
}

section_mirror() {
  local src="$work/mirror-src.raw" r i out t0 t1
  truncate -s 256M "$src"
  for ((i = 0; i < 128; i++)); do dd if=/dev/urandom of="$src" bs=1M count=1 seek=$((i * 2)) conv=notrunc status=none; done
  log "mirror: $rounds rounds, drive-mirror to NBD vs cp --sparse=always (256 MiB, 128 MiB written)"
  for ((r = 0; r < rounds; r++)); do
    out="$(timeout 300 node "$here/raw-mirror.mjs" --src "$src" --work "$work")" || { log "mirror: failed"; continue; }
    res "mirror drive-mirror seconds $(node -e 'const j=JSON.parse(process.argv[1]);if(!j.same)process.exit(1);console.log(j.totalMs/1000)' "$out")"
    rm -f "$work/cp.raw"; t0="$(now_s)"; cp --sparse=always "$src" "$work/cp.raw"; t1="$(now_s)"
    res "mirror cp-sparse seconds $(echo "$t1 - $t0" | bc -l | sed 's/^\./0./')"
    rm -f "$work/cp.raw"; t0="$(now_s)"; cp --sparse=always "$src" "$work/cp.raw" && sync "$work/cp.raw"; t1="$(now_s)"
    res "mirror cp-sparse+fsync seconds $(echo "$t1 - $t0" | bc -l | sed 's/^\./0./')"
    rm -f "$work/cp.raw"
  done
  rm -f "$src"
}

for s in "${sections[@]}"; do
  case "$s" in writer|cache) [ -d "$bundle" ] || make_bundle;; esac
  case "$s" in writer) section_writer;; fill) section_fill;; cache) section_cache;; mirror) section_mirror;;
    *) log "unknown section $s"; exit 2;; esac
done

# ---- summary: median [min - max] of each figure, and of each pair's ratio -----------
node "$here/summarize.mjs" "$results"
