#!/usr/bin/env bash
# benches/containerd-df.sh - manual benchmark on the containerd image store: `dredge df` against
# `docker system df -v` and `du -sx`, on the chrooted engines of scripts/docker-up-containerd.
#
# NOT run by CI or by `cargo test`; run it by hand, as root, with the engines up:
#
#     scripts/docker-up-containerd && DREDGE_CTRD_MODE=system scripts/docker-up-containerd
#     RUNS=11 bash benches/containerd-df.sh
#
# For each engine (dockerd's own containerd under the data root; a system containerd beside it):
#   1. Figures: dredge df's categories (allocated bytes) and their sum; `du -sx -B1` of the data root
#      and of the containerd root when it is beside it; what `docker system df -v` says (apparent
#      sizes: images' SIZE with shared bytes counted once per image, containers, volumes, cache).
#   2. Times, warm page cache: one warm-up, then $RUNS timed runs each, interleaved, medians:
#        docker   docker system df -v
#        dredge   dredge df --json --no-progress   (release build)
#      and the ratio dredge/docker.
# Requirements: the engines, jq, bc; `cargo build --release` is run first.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-11}
cargo build --release -q
DREDGE=$PWD/target/release/dredge

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
du_b1() { du -sx -B1 "$1" | cut -f1; }

for mode in own system; do
  if [ "$mode" = own ]; then root=/var/tmp/dredge-trixie; ctrd=""; else
    root=/var/tmp/dredge-trixie-sys; ctrd=$root/var/lib/containerd; fi
  export DOCKER_HOST=unix://$root/run/docker.sock
  if ! docker info >/dev/null 2>&1; then echo "$mode: no engine on $DOCKER_HOST; skipped" >&2; continue; fi
  doc=$("$DREDGE" df --json --no-progress --top 0)
  du_data=$(du_b1 "$root/var/lib/docker")
  du_ctrd=0; [ -z "$ctrd" ] || du_ctrd=$(du_b1 "$ctrd")
  echo "== $mode containerd ($DOCKER_HOST)"
  echo "$doc" | jq -r '.categories[] | "  \(.name)\t\(.bytes)"'
  sum=$(echo "$doc" | jq '[.categories[].bytes] | add')
  echo "  sum of categories $sum; du -sx -B1: data root $du_data + containerd root beside it $du_ctrd = $((du_data + du_ctrd))"
  echo "  docker system df -v (apparent):"
  docker system df --format '{{.Type}}\t{{.Size}}\t{{.Reclaimable}}' | sed 's/^/    /'
  : >/tmp/ctrd-bench.docker; : >/tmp/ctrd-bench.dredge
  secs docker system df -v >/dev/null; secs "$DREDGE" df --json --no-progress >/dev/null
  for _ in $(seq 1 "$RUNS"); do
    secs docker system df -v >>/tmp/ctrd-bench.docker
    secs "$DREDGE" df --json --no-progress >>/tmp/ctrd-bench.dredge
  done
  td=$(median </tmp/ctrd-bench.docker); tr=$(median </tmp/ctrd-bench.dredge)
  printf '  time (median of %s): docker system df -v %.3f s, dredge df %.3f s, dredge/docker %.2f\n' \
    "$RUNS" "$td" "$tr" "$(echo "$tr / $td" | bc -l)"
  rm -f /tmp/ctrd-bench.docker /tmp/ctrd-bench.dredge
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
