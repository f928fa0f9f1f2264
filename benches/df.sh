#!/usr/bin/env bash
# benches/df.sh - manual benchmark: `dredge df` vs `docker system df -v` vs `du -sx` of the data root.
#
# NOT run by CI or by `cargo test`; run it by hand, as root, when nobody else is building:
#
#     bash benches/df.sh                 # defaults below
#     IMAGES=40 CONTAINERS=60 VOLUMES=20 BIG_MB=1000 RUNS=5 bash benches/df.sh
#
# What it does
#   1. Starts a PRIVATE dockerd (own --data-root, --exec-root, --pidfile, unix socket under $WORK; no
#      bridge, no iptables), so the shared engine is never filled or measured. Stopped on exit (by pid).
#   2. Fills it with a realistic population: a busybox base from `docker import`; $IMAGES images built
#      with the classic builder (two layers each, a few MB); one big image of $BIG_MB MB in 4 KiB to 8 MiB
#      files; $CONTAINERS stopped containers each with writable data (1 MB in 64 files); $VOLUMES named
#      volumes with files (2 MB each); one chatty container whose json-file log is $LOG_MB MB.
#   3. Times, warm page cache, each command once to warm up then $RUNS measured runs (median wall s):
#        du       du -sx --block-size=1 $ROOT
#        docker   docker system df -v          (through the private daemon)
#        dredge   dredge df --json --no-progress  (live mode, DOCKER_HOST = the private daemon)
#      and prints the figures each reports (total bytes) next to the times, with the ratios
#      dredge/du and dredge/docker.
# Requirements: dockerd and /usr/bin/docker (Debian 20.10), /bin/busybox, GNU coreutils, jq, python3;
# `cargo build --release` is run first. Disk: about BIG_MB + 200 MB + 3 MB x (CONTAINERS + VOLUMES).
#
# The "repeat" row runs `dredge df --cache FILE` after a first run has filled FILE: committed layers'
# sizes are then taken from it (keyed by layer id) and only what can change is walked.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGES=${IMAGES:-30}
CONTAINERS=${CONTAINERS:-40}
VOLUMES=${VOLUMES:-10}
BIG_MB=${BIG_MB:-500}
LOG_MB=${LOG_MB:-50}
RUNS=${RUNS:-3}
DOCKER=/usr/bin/docker

cargo build --release -q
DREDGE=$PWD/target/release/dredge

WORK=$(mktemp -d /tmp/dredge-dfbench-XXXXXX)
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
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "starting a private dockerd in $WORK" >&2
dockerd --data-root "$ROOT" --exec-root "$WORK/exec" --pidfile "$WORK/d.pid" -H "$DOCKER_HOST" \
  --bridge=none --iptables=false --ip-masq=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 1 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
$DOCKER info >/dev/null

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

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
timeit() { # label, command...
  local label=$1; shift
  "$@" >/dev/null 2>&1 || true
  for _ in $(seq 1 "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median >"$WORK/t.$label"
}

timeit du du -sx --block-size=1 "$ROOT"
timeit docker $DOCKER system df -v
timeit dredge "$DREDGE" df --json --no-progress
"$DREDGE" df --json --no-progress --cache "$WORK/df-cache.json" >/dev/null 2>&1
timeit repeat "$DREDGE" df --json --no-progress --cache "$WORK/df-cache.json"

du_bytes=$(du -sx --block-size=1 "$ROOT" | cut -f1)
dredge_json=$("$DREDGE" df --json --no-progress --top 0 --engine-df 2>/dev/null)
dredge_bytes=$(echo "$dredge_json" | jq '.total_bytes')
sum_bytes=$(echo "$dredge_json" | jq '[.categories[].bytes] | add')
docker_bytes=$(echo "$dredge_json" | jq '.engine.disk_usage | .images_bytes + .containers_bytes + .volumes_bytes + .build_cache_bytes')
logs=$(echo "$dredge_json" | jq '[.containers[].log_apparent_bytes] | add')

t_du=$(cat "$WORK/t.du"); t_docker=$(cat "$WORK/t.docker"); t_dredge=$(cat "$WORK/t.dredge"); t_repeat=$(cat "$WORK/t.repeat")
printf '\n%-28s %10s  %s\n' "command" "median s" "reports (bytes)"
printf '%-28s %10.3f  total %s\n' "du -sx --block-size=1" "$t_du" "$du_bytes"
printf '%-28s %10.3f  images+containers+volumes+cache %s (apparent, no logs)\n' "docker system df -v" "$t_docker" "$docker_bytes"
printf '%-28s %10.3f  total %s = categories %s; logs %s; orphans %s\n' "dredge df (first)" "$t_dredge" \
  "$dredge_bytes" "$sum_bytes" "$logs" "$(echo "$dredge_json" | jq '.orphans | length')"
printf '%-28s %10.3f\n' "dredge df --cache (repeat)" "$t_repeat"
printf '\nratios: dredge/du %.2f, dredge/docker %.2f, repeat/docker %.2f (targets: <= 1, -, <= 0.5)\n' \
  "$(echo "$t_dredge / $t_du" | bc -l)" "$(echo "$t_dredge / $t_docker" | bc -l)" "$(echo "$t_repeat / $t_docker" | bc -l)"
printf 'population: %s images + big, %s containers + chatty, %s volumes, %s runs, warm cache\n' \
  "$IMAGES" "$CONTAINERS" "$VOLUMES" "$RUNS"
