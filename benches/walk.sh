#!/usr/bin/env bash
# benches/walk.sh - manual benchmark: dredge's hand-written walkers against the crates that do the job.
#
#   1. `dredge df`'s walker (src/audit/walk.rs: getdents64 via rustix, openat/fstatat relative to the
#      parent, a condvar work queue) against jwalk on a rayon pool with an inode filter (what dua-cli
#      does), both on $THREADS threads, with `du -sx --block-size=1` as the floor/reference;
#   2. `dredge image`'s overlay2 layer walk: the hand-written std::fs::read_dir recursion overlay.rs had
#      (copied into benches/walk.rs) against walkdir sorted by name, which replaced it; both
#      single-threaded (one layer per thread).
#
# NOT run by CI or by `cargo test`; run it by hand, as root (the tree holds whiteouts and a trusted.*
# xattr), when nobody else is building:
#
#     bash benches/walk.sh                          # tree in a temporary dir under /var/tmp, removed after
#     KEEP=/var/tmp/walkbench RUNS=9 bash benches/walk.sh   # build the tree once, reuse it next time
#
# The tree (benches/walk.rs `make`): about 306 000 entries, 1.2 GB allocated: 20 dirs of 10 000 small
# files, 20 000 dirs of 4 files, 5 000 hard links, 1 000 symlinks, 100 whiteouts, 10 opaque dirs.
# Every walker runs once to warm the page cache, then $RUNS rounds, each running every walker once in
# turn (ours, jwalk, du, layer-ours, layer-walkdir: interleaved, so a change of load hits all alike).
# Each run is its own process; its walk time (measured inside it), its CPU time and its peak RSS are
# recorded.
# The script checks that each pair reports the SAME figures (bytes, apparent bytes, entries, newest
# mtime; for the layer walks the entry count and a fingerprint of the ordered entry list) and that
# ours equals du's bytes, and fails otherwise: a comparison of walkers that disagree is void.
# Prints medians, ratios (jwalk/ours, du/ours, walkdir/ours: > 1 means ours is faster), the load
# average before and after, and one JSON line (written with every run's figures to $OUT, default
# $WORK/result.json).
# Requirements: GNU coreutils, jq; `cargo bench --bench walk --no-run` is run first.
#
# Measured 2026-12-01 (2 cores shared with other builds, warm cache, medians; load average per round;
# the bench profile then inherited a fat-LTO, one-codegen-unit release profile):
#   KEEP=/var/tmp/walkbench RUNS=11 bash benches/walk.sh   (301 336 entries, du 1 394 073 600 B)
#     [7.7-9.8] ours 1.567 s (CPU 0.58 s, 3.4 MiB) | jwalk 2.396 s (0.88 s, 18.0 MiB) | du -sx 1.720 s
#               jwalk/ours 1.53 (per-round 1.55), RSS 5.35: ours kept (src/audit/walk.rs's doc)
#               layer: hand-written 2.414 s (0.98 s) | walkdir 2.931 s (1.10 s): 1.22 (per-round 1.03),
#               RSS 1.04: below 1.3, replaced by walkdir (src/source/overlay.rs's doc)
#   RUNS=11 again [8.3-12.2]: jwalk/ours 1.41 (per-round 1.41), CPU 0.87/0.58 s, RSS 5.49;
#     walkdir/hand-written 1.22 (per-round 1.09), CPU 1.10/0.98 s
#   RUNS=9 [11-14]: jwalk/ours 1.16 (per-round 1.50), RSS 5.65; walkdir/hand-written 1.08 (1.12)
#   Same figures from both walkers of each pair, and ours = du, in every run.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-7}
THREADS=${THREADS:-$(nproc)}
KEEP=${KEEP:-}
RECIPE="walk.rs make v1"

BIN=$(cargo bench --bench walk --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .target.name == "walk" and .executable != null) | .executable' |
  tail -n 1)
[ -x "$BIN" ] || { echo "cannot build the walk bench binary" >&2; exit 1; }

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"; WORK=$(cd "$KEEP" && pwd)
else
  WORK=$(mktemp -d /var/tmp/dredge-walkbench-XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
fi
ROOT=$WORK/root
OUT=${OUT:-$WORK/result.json}

if [ "$(cat "$WORK/recipe" 2>/dev/null)" != "$RECIPE" ]; then
  if [ -e "$ROOT" ]; then
    echo "$WORK holds another or an unfinished tree; remove it first" >&2
    exit 2
  fi
  echo "building the tree in $ROOT" >&2
  "$BIN" make "$ROOT"
  sync
  echo "$RECIPE" >"$WORK/recipe"
fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
du_run() { # one JSON line like the bench binary's
  local t0 t1 b
  t0=$(date +%s.%N); b=$(du -sx --block-size=1 "$ROOT" | cut -f1); t1=$(date +%s.%N)
  jq -nc --argjson b "$b" --argjson s "$(echo "$t1 - $t0" | bc -l)" '{walker: "du", secs: $s, bytes: $b}'
}
run() { # walker -> one JSON line
  case $1 in
    du) du_run ;;
    ours | jwalk) "$BIN" "$1" "$ROOT" "$THREADS" ;;
    layer-ours | layer-walkdir) "$BIN" "$1" "$ROOT" ;;
  esac
}
WALKERS="ours jwalk du layer-ours layer-walkdir"

for w in $WALKERS; do run "$w" >/dev/null; done # warm the page cache and the dentry/inode caches
load_before=$(load)
: >"$WORK/runs.jsonl"
for i in $(seq 1 "$RUNS"); do
  l=$(load)
  for w in $WALKERS; do
    run "$w" | jq -c --arg load "$l" --argjson round "$i" '. + {round: $round, load: $load}' >>"$WORK/runs.jsonl"
  done
done
load_after=$(load)

R=$WORK/runs.jsonl
# The same figures from both walkers of a pair, in every run, or the comparison is void.
figs() { jq -s -c --arg w "$1" "[.[] | select(.walker == \$w) | $2] | unique" "$R"; }
f_ours=$(figs ours '{bytes, apparent_bytes, entries, newest_ns, errors}')
f_jwalk=$(figs jwalk '{bytes, apparent_bytes, entries, newest_ns, errors}')
f_du=$(figs du '.bytes')
f_lo=$(figs layer-ours '{entries, file_bytes, hardlinks, whiteouts, opaque, fingerprint}')
f_lw=$(figs layer-walkdir '{entries, file_bytes, hardlinks, whiteouts, opaque, fingerprint}')
same_df=$([ "$f_ours" = "$f_jwalk" ] && [ "$(echo "$f_ours" | jq length)" = 1 ] && echo true || echo false)
same_du=$([ "$(echo "$f_ours" | jq -c '[.[].bytes]')" = "$f_du" ] && echo true || echo false)
same_layer=$([ "$f_lo" = "$f_lw" ] && [ "$(echo "$f_lo" | jq length)" = 1 ] && echo true || echo false)

med() { jq -s --arg w "$1" --arg k "$2" '[.[] | select(.walker == $w) | .[$k]] | sort |
  if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end' "$R"; }
# Median over the rounds of one walker's time over another's in the same round: a load that changes
# between rounds cancels out.
paired() { jq -s --arg a "$1" --arg b "$2" '[group_by(.round)[] |
  ((map(select(.walker == $a))[0].secs) / (map(select(.walker == $b))[0].secs))] | sort |
  (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end) * 1000 | round / 1000' "$R"; }
ratio() { jq -n --argjson a "$1" --argjson b "$2" '$a / $b * 1000 | round / 1000'; }
declare -A T M
for w in $WALKERS; do T[$w]=$(med "$w" secs); done
declare -A C
for w in ours jwalk layer-ours layer-walkdir; do M[$w]=$(med "$w" peak_kib); C[$w]=$(med "$w" cpu_secs); done

printf '\ntree: %s entries, %s bytes allocated (du -sx), %s apparent; %s threads for the df walkers; %s rounds\n' \
  "$(echo "$f_ours" | jq '.[0].entries')" "$(echo "$f_du" | jq '.[0]')" "$(echo "$f_ours" | jq '.[0].apparent_bytes')" \
  "$THREADS" "$RUNS"
printf '%-34s %10s %10s %12s\n' "walker" "median s" "CPU s" "peak RSS KiB"
printf '%-34s %10.3f %10s %12s\n' "ours (audit/walk.rs)" "${T[ours]}" "${C[ours]}" "${M[ours]}"
printf '%-34s %10.3f %10s %12s\n' "jwalk + inode filter (dua-cli)" "${T[jwalk]}" "${C[jwalk]}" "${M[jwalk]}"
printf '%-34s %10.3f %10s %12s\n' "du -sx --block-size=1" "${T[du]}" "-" "-"
printf '%-34s %10.3f %10s %12s\n' "layer: hand-written read_dir" "${T[layer-ours]}" "${C[layer-ours]}" "${M[layer-ours]}"
printf '%-34s %10.3f %10s %12s\n' "layer: walkdir (overlay.rs now)" "${T[layer-walkdir]}" "${C[layer-walkdir]}" "${M[layer-walkdir]}"
r_jwalk=$(ratio "${T[jwalk]}" "${T[ours]}"); r_du=$(ratio "${T[du]}" "${T[ours]}")
r_walkdir=$(ratio "${T[layer-walkdir]}" "${T[layer-ours]}")
m_jwalk=$(ratio "${M[jwalk]}" "${M[ours]}"); m_walkdir=$(ratio "${M[layer-walkdir]}" "${M[layer-ours]}")
printf '\nratios (time, > 1: ours faster): jwalk/ours %s, du/ours %s, walkdir/ours %s\n' "$r_jwalk" "$r_du" "$r_walkdir"
p_jwalk=$(paired jwalk ours); p_du=$(paired du ours); p_walkdir=$(paired layer-walkdir layer-ours)
printf 'paired (median of the per-round ratios): jwalk/ours %s, du/ours %s, walkdir/ours %s\n' "$p_jwalk" "$p_du" "$p_walkdir"
printf 'ratios (peak RSS): jwalk/ours %s, walkdir/ours %s\n' "$m_jwalk" "$m_walkdir"
printf 'same figures: ours = jwalk %s, ours = du %s, layer ours = walkdir %s\n' "$same_df" "$same_du" "$same_layer"
printf 'load average: before %s, after %s; per round: %s; %s cores\n' "$load_before" "$load_after" \
  "$(jq -s -r '[.[] | select(.walker == "ours") | .load | split(" ")[0]] | join(" ")' "$R")" "$(nproc)"

jq -n -c \
  --argjson runs "$RUNS" --argjson threads "$THREADS" --argjson cores "$(nproc)" \
  --arg load_before "$load_before" --arg load_after "$load_after" \
  --argjson f_ours "$f_ours" --argjson f_du "$f_du" --argjson f_lo "$f_lo" \
  --argjson t_ours "${T[ours]}" --argjson t_jwalk "${T[jwalk]}" --argjson t_du "${T[du]}" \
  --argjson t_lo "${T[layer-ours]}" --argjson t_lw "${T[layer-walkdir]}" \
  --argjson c_ours "${C[ours]}" --argjson c_jwalk "${C[jwalk]}" \
  --argjson c_lo "${C[layer-ours]}" --argjson c_lw "${C[layer-walkdir]}" \
  --argjson m_ours "${M[ours]}" --argjson m_jwalk "${M[jwalk]}" \
  --argjson m_lo "${M[layer-ours]}" --argjson m_lw "${M[layer-walkdir]}" \
  --argjson r_jwalk "$r_jwalk" --argjson r_du "$r_du" --argjson r_walkdir "$r_walkdir" \
  --argjson p_jwalk "$p_jwalk" --argjson p_du "$p_du" --argjson p_walkdir "$p_walkdir" \
  --argjson m_r_jwalk "$m_jwalk" --argjson m_r_walkdir "$m_walkdir" \
  --argjson same_df "$same_df" --argjson same_du "$same_du" --argjson same_layer "$same_layer" \
  --slurpfile all "$R" \
  '{schema: "dredge.bench-walk", schema_version: 1, runs: $runs, threads: $threads, cores: $cores,
    load_average: {before: $load_before, after: $load_after},
    tree: {entries: $f_ours[0].entries, bytes: $f_du[0], apparent_bytes: $f_ours[0].apparent_bytes,
      layer_entries: $f_lo[0].entries},
    median_seconds: {ours: $t_ours, jwalk: $t_jwalk, du: $t_du, layer_ours: $t_lo, layer_walkdir: $t_lw},
    median_cpu_seconds: {ours: $c_ours, jwalk: $c_jwalk, layer_ours: $c_lo, layer_walkdir: $c_lw},
    median_peak_kib: {ours: $m_ours, jwalk: $m_jwalk, layer_ours: $m_lo, layer_walkdir: $m_lw},
    ratios: {jwalk_over_ours: $r_jwalk, du_over_ours: $r_du, walkdir_over_ours: $r_walkdir},
    paired_ratios: {jwalk_over_ours: $p_jwalk, du_over_ours: $p_du, walkdir_over_ours: $p_walkdir},
    peak_rss_ratios: {jwalk_over_ours: $m_r_jwalk, walkdir_over_ours: $m_r_walkdir},
    same_figures: {ours_jwalk: $same_df, ours_du: $same_du, layer_ours_walkdir: $same_layer},
    runs_detail: $all}' >"$OUT"
jq -c 'del(.runs_detail)' "$OUT" # the per-run figures are in $OUT

[ "$same_df" = true ] && [ "$same_du" = true ] && [ "$same_layer" = true ] || {
  echo "the walkers disagree: the comparison is void (see $R)" >&2
  exit 1
}
