#!/usr/bin/env bash
# benches/df.sh - manual benchmark: `dredge df` vs `docker system df -v` vs `du -sx` of the data root.
#
# NOT run by CI or by `cargo test`; run it by hand, as root, when nobody else is building:
#
#     bash benches/df.sh                 # defaults below
#     IMAGES=40 CONTAINERS=60 VOLUMES=20 BIG_MB=1000 RUNS=5 bash benches/df.sh
#     KEEP=/var/tmp/dfbench bash benches/df.sh   # fill once, keep the data root, reuse it next time
#     BEFORE=/tmp/dredge-old bash benches/df.sh   # also time another build's `dredge df`
#
# What it does
#   1. Starts a PRIVATE dockerd (own --data-root, --exec-root, --pidfile, unix socket under $WORK; no
#      bridge, no iptables), so the shared engine is never filled or measured. Stopped on exit (by pid).
#      With KEEP=DIR, $WORK is DIR: it is not deleted on exit, and a DIR already filled with the same
#      population (DIR/population) is reused as it is instead of being filled again.
#   2. Fills it with a realistic population: a busybox base from `docker import`; $IMAGES images built
#      with the classic builder (two layers each, a few MB); one big image of $BIG_MB MB in 4 KiB to 8 MiB
#      files, plus (SMALL_FILES > 0) a layer of $SMALL_FILES files of 1-8 KiB in 100 directories; $CONTAINERS stopped containers each with writable data (1 MB in 64 files); $VOLUMES named
#      volumes with files (2 MB each); one chatty container whose json-file log is $LOG_MB MB.
#   3. Times, warm page cache, each command once to warm up then $RUNS measured runs (median wall s):
#        du       du -sx --block-size=1 $ROOT
#        docker   docker system df -v          (through the private daemon)
#        dredge   dredge df --json --no-progress  (live mode, DOCKER_HOST = the private daemon)
#        repeat   dredge df --json --no-progress --cache FILE, FILE filled by a run before
#        before  BIN df --json --no-progress   (with BEFORE=BIN: another build, e.g. the last release;
#                its categories and images' last use must equal this build's, else exit 1)
#      and prints the figures each reports (total bytes) next to the times, with the ratios
#      dredge/du and repeat/docker, the load average before and after, then the same as one JSON
#      document (also written to $OUT, default $WORK/result.json).
# Requirements: dockerd and /usr/bin/docker (Debian 20.10), /bin/busybox, GNU coreutils, jq, bc;
# `cargo build --release` is run first. Disk: about BIG_MB + 200 MB + 3 MB x (CONTAINERS + VOLUMES).
#
# The "repeat" row runs `dredge df --cache FILE` after a first run has filled FILE: committed layers'
# sizes are then taken from it (keyed by layer id) and only what can change is walked.
#
# Measured 2026-11-25 (2 cores shared with other builds, warm page cache, RUNS=7, medians, release build
# of branch df-speed at its last commit; load average at the start of the timed runs in brackets):
#
#   RUNS=7 KEEP=/var/tmp/dfb bash benches/df.sh      (defaults: 6 200 entries, du 762 544 128 B)
#     [2.04] du -sx 0.033 s | docker system df -v 0.080 s | dredge first 0.034 s | dredge --cache 0.031 s
#            first/du 1.02, repeat/docker 0.39
#     earlier runs of the same code but for the dockerd check of the cache's root (see git log):
#     [0.88] 0.037 | 0.089 | 0.036 | 0.031: 0.98 and 0.35;  [0.85] 0.040 | 0.091 | 0.031 | 0.028: 0.78, 0.31
#     first/du: at parity, the target (<= 1) is met on a quiet machine only: the walk is small (6 200
#     entries) and the engine's /info, which a 20.10 daemon answers by running `runc --version`, competes
#     with the walk for the two cores. repeat/docker <= 0.5: met.
#   RUNS=7 SMALL_FILES=30000 KEEP=/var/tmp/dfb2 bash benches/df.sh   (du 946 622 464 B)
#     [1.96] du -sx 0.118 s | docker system df -v 0.079 s | dredge first 0.065 s | dredge --cache 0.033 s
#            first/du 0.55, repeat/docker 0.41 (both met; earlier run [0.81]: 0.55 and 0.37)
#   Both: dredge's categories sum to du's total exactly; the repeat run's categories equal the first
#   run's; dredge also reports the 126 MB of json-file logs and `image/` metadata docker does not count.
#   Before this branch (same default population, load 1.8): first/du 1.99, repeat/docker 0.47.
# Measured 2026-12-01 (load average 3.3, a test build and other builds alongside, RUNS=5, medians):
#   BEFORE=<release build of f0d17eb> IMAGES=20 CONTAINERS=300 VOLUMES=10 BIG_MB=200 RUNS=5 \
#     KEEP=/var/tmp/dfb300 bash benches/df.sh      (du 735 174 656 B; 300 stopped containers + chatty)
#     du -sx 0.180 s | docker system df -v 0.308 s | dredge first 0.192 s | --cache 0.161 s
#     before (f0d17eb: one inspect per container for last use) 0.316 s; this build / before 0.61, with the
#     same categories and the same last use of every image (last use now from config.v2.json)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGES=${IMAGES:-30}
CONTAINERS=${CONTAINERS:-40}
VOLUMES=${VOLUMES:-10}
BIG_MB=${BIG_MB:-500}
SMALL_FILES=${SMALL_FILES:-0}
LOG_MB=${LOG_MB:-50}
RUNS=${RUNS:-5}
KEEP=${KEEP:-}
BEFORE=${BEFORE:-}
DOCKER=/usr/bin/docker

cargo build --release -q
DREDGE=$PWD/target/release/dredge

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"; WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /tmp/dredge-dfbench-XXXXXX)
fi
OUT=${OUT:-$WORK/result.json}
ROOT=$WORK/root
SOCK=$WORK/d.sock
export DOCKER_HOST=unix://$SOCK
DPID=

cleanup() {
  if [ -n "$DPID" ]; then
    kill -TERM "$DPID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
  fi
  # Mounts the daemon left under our own dir only, deepest first.
  awk -v base="$WORK" '$5 ~ "^"base {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  [ -n "$KEEP" ] || rm -rf "$WORK"
}
trap cleanup EXIT

population="images=$IMAGES containers=$CONTAINERS volumes=$VOLUMES big_mb=$BIG_MB small_files=$SMALL_FILES log_mb=$LOG_MB"
reuse=0
if [ -n "$KEEP" ] && [ "$(cat "$WORK/population" 2>/dev/null)" = "$population" ]; then
  reuse=1
elif [ -e "$ROOT" ]; then
  trap - EXIT
  echo "$WORK holds another or an unfinished population ($(cat "$WORK/population" 2>/dev/null)); remove it first" >&2
  exit 2
fi

echo "starting a private dockerd in $WORK" >&2
dockerd --data-root "$ROOT" --exec-root "$WORK/exec" --pidfile "$WORK/d.pid" -H "$DOCKER_HOST" \
  --bridge=none --iptables=false --ip-masq=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 1 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
$DOCKER info >/dev/null

if [ "$reuse" = 1 ]; then
  echo "reusing the population in $WORK ($population)" >&2
else
echo "filling: base, $IMAGES images, big ${BIG_MB} MB, $CONTAINERS containers, $VOLUMES volumes, log ${LOG_MB} MB" >&2
rootfs=$WORK/rootfs
mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/root" "$rootfs/data"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh head yes seq sleep mkdir rm cat echo true; do ln "$rootfs/bin/busybox" "$rootfs/bin/$a"; done
tar -C "$rootfs" -cf - . | $DOCKER import - dfbench/base:1 >/dev/null

ctx=$WORK/ctx
mkdir -p "$ctx"
for i in $(seq 1 "$IMAGES"); do
  head -c $((i * 50000)) /dev/urandom >"$ctx/blob"
  printf 'FROM dfbench/base:1\nCOPY blob /blob\nRUN head -c %d /dev/zero > /z && echo %d > /n\n' \
    $((i * 30000)) "$i" >"$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 $DOCKER build -q --network none -t "dfbench/img$i:1" "$ctx" >/dev/null
done
rm -rf "$ctx" && mkdir -p "$ctx/big"
n=0; left=$((BIG_MB * 1024 * 1024))
while [ "$left" -gt 0 ]; do
  sz=$(( (n % 7 == 0) ? 8388608 : 4096 * (1 + n % 64) ))
  [ "$sz" -gt "$left" ] && sz=$left
  head -c "$sz" /dev/urandom >"$ctx/big/f$n"
  left=$((left - sz)); n=$((n + 1))
done
printf 'FROM dfbench/base:1\nCOPY big /big\n' >"$ctx/Dockerfile"
if [ "$SMALL_FILES" -gt 0 ]; then
  # A package-manager-like layer: $SMALL_FILES files of 1 to 8 KiB in 100 directories.
  for d in $(seq 0 99); do
    mkdir -p "$ctx/small/d$d"
    head -c $(( (SMALL_FILES / 100) * 1024 * (1 + d % 8) )) /dev/urandom |
      (cd "$ctx/small/d$d" && split -b $((1024 * (1 + d % 8))) -a 4 - f)
  done
  printf 'COPY small /usr/lib/small\n' >>"$ctx/Dockerfile"
fi
DOCKER_BUILDKIT=0 $DOCKER build -q --network none -t dfbench/big:1 "$ctx" >/dev/null
rm -rf "$ctx"
for i in $(seq 1 "$CONTAINERS"); do
  $DOCKER run --network none --name "dfbench-c$i" dfbench/img$(( (i % IMAGES) + 1 )):1 \
    sh -c 'mkdir /w; for j in $(seq 1 64); do head -c 16384 /dev/urandom > /w/$j; done' >/dev/null
done
for i in $(seq 1 "$VOLUMES"); do
  $DOCKER run --rm --network none -v "dfbench-v$i:/data" dfbench/base:1 \
    sh -c 'for j in $(seq 1 32); do head -c 65536 /dev/urandom > /data/$j; done' >/dev/null
done
$DOCKER run --network none --name dfbench-chatty dfbench/base:1 \
  sh -c "yes 'a chatty log line of some length, again and again' | head -c $((LOG_MB * 1024 * 1024))" >/dev/null

echo "$population" >"$WORK/population"
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timeit() { # label, command...: one warm-up run, then $RUNS timed runs; all times kept in $WORK/t.label
  local label=$1; shift
  "$@" >/dev/null 2>&1 || true
  : >"$WORK/t.$label"
  for _ in $(seq 1 "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l >>"$WORK/t.$label"
  done
}
med() { median <"$WORK/t.$1"; }
runs() { sort -n "$WORK/t.$1" | jq -s -c .; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
CACHE=$WORK/df-cache.json
rm -f "$CACHE"
timeit du du -sx --block-size=1 "$ROOT"
timeit docker $DOCKER system df -v
timeit dredge "$DREDGE" df --json --no-progress
"$DREDGE" df --json --no-progress --cache "$CACHE" >/dev/null 2>&1
timeit repeat "$DREDGE" df --json --no-progress --cache "$CACHE"
[ -z "$BEFORE" ] || timeit before "$BEFORE" df --json --no-progress
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

du_bytes=$(du -sx --block-size=1 "$ROOT" | cut -f1)
dredge_json=$("$DREDGE" df --json --no-progress --top 0 --engine-df 2>/dev/null)
repeat_json=$("$DREDGE" df --json --no-progress --top 0 --cache "$CACHE" 2>/dev/null)
dredge_bytes=$(echo "$dredge_json" | jq '.total_bytes')
sum_bytes=$(echo "$dredge_json" | jq '[.categories[].bytes] | add')
repeat_sum=$(echo "$repeat_json" | jq '[.categories[].bytes] | add')
# Through files: a large population's documents exceed the argument-list limit.
echo "$dredge_json" >"$WORK/dredge.json"; echo "$repeat_json" >"$WORK/repeat.json"
same=$(jq -n --slurpfile a "$WORK/dredge.json" --slurpfile b "$WORK/repeat.json" \
  '[$a[0].categories[] | {name, bytes, apparent_bytes, count}] == [$b[0].categories[] | {name, bytes, apparent_bytes, count}]')
cached_layers=$(echo "$repeat_json" | jq '.cached_layers // 0')
docker_bytes=$(echo "$dredge_json" | jq '.engine.disk_usage | .images_bytes + .containers_bytes + .volumes_bytes + .build_cache_bytes')
logs=$(echo "$dredge_json" | jq '[.containers[].log_apparent_bytes] | add')
orphans=$(echo "$dredge_json" | jq '.orphans | length')

t_du=$(med du); t_docker=$(med docker); t_dredge=$(med dredge); t_repeat=$(med repeat)
r_du=$(echo "$t_dredge / $t_du" | bc -l); r_docker=$(echo "$t_dredge / $t_docker" | bc -l)
r_repeat=$(echo "$t_repeat / $t_docker" | bc -l)
printf '\n%-28s %10s  %s\n' "command" "median s" "reports (bytes)"
printf '%-28s %10.3f  total %s\n' "du -sx --block-size=1" "$t_du" "$du_bytes"
printf '%-28s %10.3f  images+containers+volumes+cache %s (apparent, no logs)\n' "docker system df -v" "$t_docker" "$docker_bytes"
printf '%-28s %10.3f  total %s = categories %s; logs %s; orphans %s\n' "dredge df (first)" "$t_dredge" \
  "$dredge_bytes" "$sum_bytes" "$logs" "$orphans"
printf '%-28s %10.3f  categories %s (%s layers from the cache; same categories as the first run: %s)\n' \
  "dredge df --cache (repeat)" "$t_repeat" "$repeat_sum" "$cached_layers" "$same"
printf '\nratios: dredge/du %.2f, dredge/docker %.2f, repeat/docker %.2f (targets: <= 1, -, <= 0.5)\n' \
  "$r_du" "$r_docker" "$r_repeat"
if [ -n "$BEFORE" ]; then
  "$BEFORE" df --json --no-progress --top 0 >"$WORK/before.json" 2>/dev/null
  key='[.categories[] | {name, bytes, apparent_bytes, count}], ([.images[] | {id, last_used}] | sort_by(.id))'
  same_before=$(jq -n --slurpfile a "$WORK/dredge.json" --slurpfile b "$WORK/before.json" \
    "[\$a[0] | $key] == [\$b[0] | $key]")
  t_before=$(med before)
  printf 'before (%s): %.3f s median; this build / before %.2f; same categories and last uses: %s\n' \
    "$BEFORE" "$t_before" "$(echo "$t_dredge / $t_before" | bc -l)" "$same_before"
  [ "$same_before" = true ] || { echo "the two builds disagree" >&2; exit 1; }
fi
printf 'population: %s images + big (%s MB, +%s small files), %s containers + chatty, %s volumes; %s runs each (median), warm cache\n' \
  "$IMAGES" "$BIG_MB" "$SMALL_FILES" "$CONTAINERS" "$VOLUMES" "$RUNS"
printf 'load average: before %s, after %s; %s cores\n' "$load_before" "$load_after" "$(nproc)"

jq -n \
  --argjson images "$IMAGES" --argjson containers "$CONTAINERS" --argjson volumes "$VOLUMES" \
  --argjson big_mb "$BIG_MB" --argjson small_files "$SMALL_FILES" --argjson log_mb "$LOG_MB" --argjson runs "$RUNS" \
  --arg load_before "$load_before" --arg load_after "$load_after" --argjson cores "$(nproc)" \
  --argjson du_runs "$(runs du)" --argjson docker_runs "$(runs docker)" \
  --argjson dredge_runs "$(runs dredge)" --argjson repeat_runs "$(runs repeat)" \
  --argjson t_du "$t_du" --argjson t_docker "$t_docker" --argjson t_dredge "$t_dredge" --argjson t_repeat "$t_repeat" \
  --argjson du_bytes "$du_bytes" --argjson docker_bytes "$docker_bytes" --argjson dredge_bytes "$dredge_bytes" \
  --argjson sum_bytes "$sum_bytes" --argjson repeat_sum "$repeat_sum" --argjson same "$same" \
  --argjson cached_layers "$cached_layers" --argjson logs "$logs" --argjson orphans "$orphans" \
  --argjson r_du "$r_du" --argjson r_docker "$r_docker" --argjson r_repeat "$r_repeat" \
  '{schema: "dredge.bench-df", schema_version: 1,
    population: {images: $images, big_mb: $big_mb, small_files: $small_files, containers: $containers, volumes: $volumes, log_mb: $log_mb},
    runs: $runs, cores: $cores, load_average: {before: $load_before, after: $load_after},
    median_seconds: {du: $t_du, docker_system_df_v: $t_docker, dredge_first: $t_dredge, dredge_repeat: $t_repeat},
    seconds: {du: $du_runs, docker_system_df_v: $docker_runs, dredge_first: $dredge_runs, dredge_repeat: $repeat_runs},
    reported_bytes: {du: $du_bytes, docker_apparent: $docker_bytes, dredge_total: $dredge_bytes,
      dredge_categories: $sum_bytes, dredge_repeat_categories: $repeat_sum, dredge_logs_apparent: $logs},
    orphans: $orphans, repeat_cached_layers: $cached_layers, repeat_equals_first: $same,
    ratios: {dredge_first_over_du: $r_du, dredge_first_over_docker: $r_docker, dredge_repeat_over_docker: $r_repeat},
    targets_met: {first_vs_du: ($r_du <= 1), repeat_vs_docker: ($r_repeat <= 0.5)}}' | tee "$OUT"
