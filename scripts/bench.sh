#!/usr/bin/env bash
# bench.sh: husk's speed and memory beside whichever of runc, crun and youki
# are installed, and the kernel's floor. A benchmark, not a test: it prints
# medians and ratios and never fails on a figure.
#
# usage: scripts/bench.sh [OUT_DIR]        (default target/bench)
# env:   RUNS=30 ROUNDS=3 WARMUP=3 N=100 PAR=4 UP_ROUNDS=3 SCALE="10 100 1000"
#        RUNTIMES="runc crun youki"
#        SHARED=../shared (for the crun/youki cgroup wrapper and the floor)
#
# Writes OUT_DIR/results.md (the tables README.md shows), OUT_DIR/chart.svg
# and the raw times (NAME.times, seconds) or hyperfine JSON. The latencies
# are RUNS runs in ROUNDS rounds in which the runtimes and the floors take
# turns, so that a slow minute of the machine falls on all of them. Per
# runtime, on a busybox bundle running /bin/true with a relative cgroupsPath:
#   run      `run` to completion, back to back and 200 ms apart
#   create / start / delete: each alone
#   cycle    create, start, wait for the init to end, delete (one bash script)
#   RSS      peak RSS of `create` (/usr/bin/time -v), median of 5
#   up/del   N sleeping containers created+started, PAR at a time; then all
#            deleted with `delete --force` (wall time, median of UP_ROUNDS
#            rounds in which the runtimes take turns); husk's up also with
#            --shim never (as under conmon and containerd-shim)
#   list / state with those N containers present; --version
# Two floors run the same /bin/true with no runtime around it: the kernel's
# (shared/bench/floor: clone with every namespace, pivot_root, exec) and the
# config's (scripts/floor-config.c: that plus the kernel work this config
# asks of any runtime: cgroups, mounts, device nodes, masks, a state record).
# For husk alone: the syscall budget of each command (strace -f -c), and how
# list, state and stats scale with 10, 100 and 1,000 containers.
#
# crun and youki put a relative cgroupsPath at the root of each v1 hierarchy
# on hybrid hosts (outside the caller's cgroup): there they run through
# shared/bench's nestcg wrapper (a private cgroup namespace), or are skipped
# when it is not at hand. Needs root; `scripts/deps.sh bench` installs the
# tools (hyperfine, strace, GNU time, crun).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=$(realpath -m "${1:-target/bench}")
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
N=${N:-100}
PAR=${PAR:-4}
UP_ROUNDS=${UP_ROUNDS:-3}
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-10 100 1000}
RUNTIMES=${RUNTIMES:-runc crun youki}
SHARED=${SHARED:-../shared}

[[ $(id -u) == 0 ]] || { echo "bench.sh: needs root" >&2; exit 1; }
scripts/deps.sh bench
for t in hyperfine jq strace /usr/bin/time cc; do
    command -v "$t" >/dev/null || { echo "bench.sh: missing $t (scripts/deps.sh installs it)" >&2; exit 1; }
done
cargo build --release --locked >&2
husk=$PWD/target/x86_64-unknown-linux-gnu/release/husk
mkdir -p "$OUT"
work=$(mktemp -d /tmp/husk-bench.XXXXXX)
tag=hb$$
declare -A CMD ROOT
LABELS=()

cleanup() {
    set +e
    local lab d
    for lab in "${LABELS[@]}"; do
        for d in "${ROOT[$lab]}/$tag"*; do
            [[ -e $d ]] && ${CMD[$lab]} --root "${ROOT[$lab]}" delete --force "${d##*/}" >/dev/null 2>&1
        done
    done
    # floor-config removes its cgroups unless it was killed half-way.
    find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name "$tag-fc" -delete 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "== $*" >&2; }
median() { sort -g | awk '{a[NR]=$1} END {if (!NR) print "n/a"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a+0 > 0 && b+0 > 0) printf "%.2f", a/b; else print "-"}'; }
put() { echo "$2" >"$work/r.$1"; }
get() { cat "$work/r.$1" 2>/dev/null || echo n/a; }

# ---------------------------------------------------------------- the bundle
scripts/mkbundle.sh "$work/base" "$husk" >/dev/null
jq '.process.args = ["/bin/true"] | .root.path = "'"$work/base/rootfs"'"' \
    "$work/base/config.json" >"$work/config.tmpl"
bundle() { # bundle ID [ARGS-JSON]: a bundle dir whose cgroupsPath is ID
    mkdir -p "$work/b/$1"
    jq --arg cg "$1" --argjson a "${2:-[\"/bin/true\"]}" '.linux.cgroupsPath = $cg | .process.args = $a' \
        "$work/config.tmpl" >"$work/b/$1/config.json"
    echo "$work/b/$1"
}

# ------------------------------------------------------------- the runtimes
wrapper=""
if [[ -f $SHARED/bench/nestcg.c ]] && cc -O2 -o "$work/nestcg" "$SHARED/bench/nestcg.c" 2>/dev/null; then
    wrapper=$work/nestcg
fi
pure_v2=false
[[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]] && pure_v2=true
add() { # add LABEL COMMAND...
    local lab=$1
    shift
    LABELS+=("$lab")
    CMD[$lab]="$*"
    ROOT[$lab]=$work/root-$lab
    mkdir -p "${ROOT[$lab]}"
}
add husk "$husk"
for rt in $RUNTIMES; do
    bin=$(command -v "$rt") || continue
    if [[ $rt == runc ]] || $pure_v2; then
        add "$rt" "$bin"
    elif [[ -n $wrapper ]]; then
        add "$rt" "$wrapper $bin"
    else
        echo "bench.sh: skipping $rt: it needs $SHARED/bench/nestcg.c on a hybrid host" >&2
    fi
done

# --------------------------------------------------------------- the floor
floor=""
if [[ -f $SHARED/bench/floor/floor.c ]] && cc -O2 -static -o "$work/floor" "$SHARED/bench/floor/floor.c" 2>/dev/null; then
    floor=$work/floor
fi
# The config's floor: the floor plus the kernel work this config asks of any
# runtime (cgroups in every hierarchy, mounts, devices, masks, a state
# record), with no runtime around it. husk run ÷ it is what husk adds.
cc -O2 -static -o "$work/floor-config" scripts/floor-config.c
mkdir -p "$work/floor-state"

# ------------------------------------------------------------- measurement
lat() { # lat NAME [hyperfine args]: one round, RUNS / ROUNDS runs, appended to NAME.times
    local name=$1
    shift
    if hyperfine -N --style none --warmup "$WARMUP" --runs "$((RUNS / ROUNDS))" --export-json "$work/$name.json" "$@" >"$work/$name.log" 2>&1; then
        jq -r '.results[0].times[]' "$work/$name.json" >>"$OUT/$name.times"
    else
        echo "bench.sh: $name failed:" >&2
        tail -3 "$work/$name.log" >&2
    fi
}
rm -f "$OUT"/*.times
hf() { # hf NAME [hyperfine args]: median in ms into r.NAME
    local name=$1
    shift
    if hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/$name.json" "$@" >"$work/$name.log" 2>&1; then
        put "$name" "$(jq -r '.results[0].median * 1000 | . * 100 | round / 100' "$OUT/$name.json")"
    else
        put "$name" n/a
        echo "bench.sh: $name failed:" >&2
        tail -3 "$work/$name.log" >&2
    fi
    log "$name $(get "$name") ms"
}

# A helper script for hyperfine's --prepare and the throughput loops.
cat >"$work/step" <<'EOF'
#!/usr/bin/env bash
set -u
rt() { $R_CMD --root "$R_ROOT" "$@"; }
b=$R_WORK/b/$2
gone() { # until the init is a zombie or gone
    local pid st
    read -r pid <"$b/pid" || [[ -n ${pid:-} ]] || return 1
    while { read -r st </proc/$pid/stat; } 2>/dev/null; do
        st=${st##*) }
        [[ ${st%% *} == [ZX] ]] && return 0
    done
    return 0 # reaped (husk's shim reaps its init)
}
case $1 in
clean) rt delete --force "$2" >/dev/null 2>&1; exit 0 ;;
created) rt delete --force "$2" >/dev/null 2>&1; rt create --bundle "$b" "$2" ;;
ended) rt delete --force "$2" >/dev/null 2>&1; rt create --bundle "$b" --pid-file "$b/pid" "$2" && rt start "$2" && gone ;;
cycle) rt create --bundle "$b" --pid-file "$b/pid" "$2" && rt start "$2" && gone && rt delete "$2" ;;
up) rt create --bundle "$b" "$2" && rt start "$2" ;;
down) rt delete --force "$2" ;;
esac
EOF
chmod +x "$work/step"
step=$work/step

peak_rss() { # peak RSS in KiB of one command (the runtime, not the wrapper)
    local f=$work/time.out
    if [[ $1 == "$wrapper" && -n $wrapper ]]; then
        NESTCG_EXEC_PREFIX="/usr/bin/time -v -o $f" "$@" >/dev/null 2>&1 || return 1
    else
        /usr/bin/time -v -o "$f" "$@" >/dev/null 2>&1 || return 1
    fi
    awk -F': ' '/Maximum resident set size/ {print $2}' "$f"
}

for lab in "${LABELS[@]}"; do
    log "$lab: ${CMD[$lab]}"
    export R_CMD=${CMD[$lab]} R_ROOT=${ROOT[$lab]} R_WORK=$work
    rt="${CMD[$lab]} --root ${ROOT[$lab]}"
    id=$tag-$lab
    bin=${CMD[$lab]##* }
    put "$lab.size" "$(awk -v b="$(stat -Lc %s "$bin")" 'BEGIN {printf "%.2f", b / 1048576}')"
    bundle "$id-run" >/dev/null
    bundle "$id" >/dev/null
    # A file's pages map in as the page cache holds them: the kernel maps
    # the whole large folio or 64 KiB window around a fault. A binary the
    # linker has just written sits in the cache in other folios than one
    # read from disk, and its RSS differs by some hundreds of KiB. Drop each
    # runtime's binary from the cache first, so that all are measured as
    # installed binaries are run: read from disk.
    dd if="$bin" iflag=nocache count=0 status=none
    rss=()
    for _ in 1 2 3 4 5; do
        "$step" clean "$id"
        # shellcheck disable=SC2086
        rss+=("$(peak_rss $rt create --bundle "$work/b/$id" "$id")")
    done
    "$step" clean "$id"
    put "$lab.rss" "$(printf '%s\n' "${rss[@]}" | median)"

    for i in $(seq 1 "$N"); do
        bundle "$id-t$i" '["sleep","60"]' >/dev/null
    done
done

# ---------------------------------------------------------------- latency
for round in $(seq 1 "$ROUNDS"); do
    for lab in "${LABELS[@]}"; do
        export R_CMD=${CMD[$lab]} R_ROOT=${ROOT[$lab]}
        rt="${CMD[$lab]} --root ${ROOT[$lab]}"
        id=$tag-$lab
        bin=${CMD[$lab]##* }
        lat "$lab.version" "$bin --version"
        lat "$lab.run" "$rt run --bundle $work/b/$id-run $id-run"
        # The same, 200 ms apart, as containers start on a node that is not
        # starting one every few ms: kernel state that back-to-back runs
        # keep warm (an RCU grace period a cgroup move by pid waits for) is
        # cold.
        lat "$lab.run_idle" --prepare "sleep 0.2" "$rt run --bundle $work/b/$id-run $id-run"
        lat "$lab.create" --prepare "$step clean $id" --cleanup "$step clean $id" "$rt create --bundle $work/b/$id $id"
        lat "$lab.start" --prepare "$step created $id" --cleanup "$step clean $id" "$rt start $id"
        lat "$lab.delete" --prepare "$step ended $id" --cleanup "$step clean $id" "$rt delete $id"
        lat "$lab.cycle" --cleanup "$step clean $id" "$step cycle $id"
    done
    if [[ -n $floor ]]; then
        lat floor.run "$floor $work/base/rootfs /bin/true"
    fi
    lat floor_config.run "$work/floor-config $work/base/rootfs $tag-fc $work/floor-state"
    log "latency round $round of $ROUNDS done"
done
for f in "$OUT"/*.times; do
    [[ -e $f ]] || continue
    name=${f##*/}
    name=${name%.times}
    put "$name" "$(median <"$f" | awk '{printf "%.2f", $1 * 1000}')"
    log "$name $(get "$name") ms"
done

# ------------------------------------------------------------- throughput
# N containers created+started PAR at a time, list and state with them
# there, then all deleted: UP_ROUNDS rounds, the runtimes taking turns in
# each round (wall times; the rows are medians). Taking turns matters on a
# root filesystem such as this VM's ext4 without a journal, where each
# round's deleted inodes make the next allocations scan longer: every
# runtime meets the same state of it.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f\n", b - a}'; }
updown() { # updown LABEL KEY: one round of up (into KEY) and delete (round 1: list, state)
    local lab=$1 id=$tag-$1 t0 t1 ids=()
    for i in $(seq 1 "$N"); do ids+=("$id-t$i"); done
    t0=$EPOCHREALTIME
    printf '%s\n' "${ids[@]}" | xargs -P "$PAR" -n 1 "$step" up >>"$work/$lab.up.log" 2>&1 || log "$lab: some create/start failed"
    t1=$EPOCHREALTIME
    elapsed "$t0" "$t1" >>"$work/all.$lab.$2"
    if [[ $2 == up && $round == 1 ]]; then
        hf "$lab.list" "${CMD[$lab]} --root ${ROOT[$lab]} list"
        hf "$lab.state" "${CMD[$lab]} --root ${ROOT[$lab]} state ${ids[$((N / 2))]}"
    fi
    t0=$EPOCHREALTIME
    printf '%s\n' "${ids[@]}" | xargs -P "$PAR" -n 1 "$step" down >>"$work/$lab.down.log" 2>&1 || log "$lab: some delete failed"
    t1=$EPOCHREALTIME
    if [[ $2 == up ]]; then elapsed "$t0" "$t1" >>"$work/all.$lab.down"; fi
}
for round in $(seq 1 "$UP_ROUNDS"); do
    for lab in "${LABELS[@]}"; do
        export R_CMD=${CMD[$lab]} R_ROOT=${ROOT[$lab]}
        updown "$lab" up
        if [[ $lab == husk ]]; then
            # Without a shim per container, as husk runs under conmon and
            # containerd-shim (the engines that start containers by the
            # hundred), and as runc and crun always do.
            R_CMD="${CMD[$lab]} --shim never" updown "$lab" up_noshim
        fi
        log "round $round: $lab $N up $(tail -1 "$work/all.$lab.up") s, delete $(tail -1 "$work/all.$lab.down") s"
    done
done
for f in "$work"/all.*; do
    key=${f#"$work"/all.}
    put "$key" "$(median <"$f")"
done

# ------------------------------------------------- husk's syscall budget
# strace -f -c of one invocation: every syscall of husk and its children
# (the init before it execs the container's process included).
count() { # count FILE SYSCALL...: sum of the calls column
    awk -v want=" $* " 'index(want, " " $NF " ") && $4 ~ /^[0-9]+$/ {s += $4} END {print s + 0}' "$1"
}
total() { awk '$NF == "total" {print $4}' "$1"; }
R_CMD=$husk R_ROOT=${ROOT[husk]}
export R_CMD R_ROOT
bid=$tag-sys
bundle "$bid" '["sleep","60"]' >/dev/null
bundle "$bid-run" >/dev/null
# --shim never: strace -f would wait for the shim, which lives as long as
# the container (the shim's own start costs 0.5 ms: scripts/bench-shim.sh).
strace_of() { # strace_of NAME ARGS...
    strace -f -c -o "$work/strace.$1" "$husk" --root "${ROOT[husk]}" --shim never "${@:2}" >/dev/null 2>&1 || true
}
strace -f -c -o "$work/strace.version" "$husk" --version >/dev/null
strace_of run run --bundle "$work/b/$bid-run" "$bid-run"
# Without -f: the init outlives create (it waits for start), and strace -f
# would wait for it. The init's setup shows in run's budget.
strace -c -o "$work/strace.create" "$husk" --root "${ROOT[husk]}" --shim never create --bundle "$work/b/$bid" "$bid" >/dev/null 2>&1 || true
strace_of start start "$bid"
strace_of state state "$bid"
strace_of list list
strace_of kill kill "$bid" KILL
sleep 0.2
strace_of delete delete --force "$bid"
SYSCMDS="version run create start state list kill delete"

# ------------------------------------------------------------------ scale
# list, state and stats of husk as the number of containers grows (each
# container a `sleep` with its shim, as a shell user gets it).
declare -A SC
have=0
sids=()
for n in $SCALE; do
    while ((have < n)); do
        have=$((have + 1))
        sids+=("$tag-s$have")
        bundle "$tag-s$have" '["sleep","600"]' >/dev/null
    done
    printf '%s\n' "${sids[@]}" | xargs -P "$PAR" -I{} sh -c \
        "[ -e ${ROOT[husk]}/{} ] || $husk --root ${ROOT[husk]} run -d --bundle $work/b/{} {}" >/dev/null 2>&1
    running=$("$husk" --root "${ROOT[husk]}" list -q | wc -l)
    log "scale: $running containers"
    hf "scale.list.$n" "$husk --root ${ROOT[husk]} list"
    hf "scale.state.$n" "$husk --root ${ROOT[husk]} state ${sids[$((n / 2))]}"
    RUNS=5 WARMUP=1 hf "scale.stats.$n" "$husk --root ${ROOT[husk]} stats --no-stream --format json"
    SC[$n]=$running
done
printf '%s\n' "${sids[@]}" | xargs -P "$PAR" -n 1 "$husk" --root "${ROOT[husk]}" delete --force >/dev/null 2>&1 || true

# ----------------------------------------------------------------- report
base=""
for lab in crun runc; do [[ -n ${CMD[$lab]:-} ]] && base=${base:-$lab}; done
{
    echo "## Lifecycle ($(uname -r), $(nproc) CPUs; medians of $RUNS runs in $ROUNDS rounds, the runtimes taking turns (throughput: $UP_ROUNDS rounds); ratios: husk ÷ ${base:-n/a})"
    echo
    printf '| |'
    printf ' %s |' "${LABELS[@]}"
    [[ -n $base ]] && printf ' husk ÷ %s |' "$base"
    echo
    printf '|---|'
    for _ in "${LABELS[@]}"; do printf -- '---|'; done
    [[ -n $base ]] && printf -- '---|'
    echo
    row() { # row TITLE KEY
        printf '| %s |' "$1"
        for lab in "${LABELS[@]}"; do printf ' %s |' "$(get "$lab.$2")"; done
        [[ -n $base ]] && printf ' %s |' "$(ratio "$(get "husk.$2")" "$(get "$base.$2")")"
        echo
    }
    row "run /bin/true (ms)" run
    row "run /bin/true, 200 ms apart (ms)" run_idle
    row "create (ms)" create
    row "start (ms)" start
    row "delete (ms)" delete
    row "create→start→delete (ms)" cycle
    row "peak RSS of create (KiB)" rss
    row "$N× create+start, $PAR at a time (s)" up
    row "$N× delete --force (s)" down
    if [[ -n $base ]]; then
        printf '| %s | %s |' "$N× create+start, $PAR at a time, husk without its shims (s)" "$(get husk.up_noshim)"
        for lab in "${LABELS[@]:1}"; do printf ' |'; done
        printf ' %s |\n' "$(ratio "$(get husk.up_noshim)" "$(get "$base.up")")"
    fi
    row "list with $N (ms)" list
    row "state with $N (ms)" state
    row "--version (ms)" version
    row "binary (MiB)" size
    echo
    if [[ -n $floor ]]; then
        echo "Kernel floor (clone with all namespaces + pivot_root + exec): $(get floor.run) ms; husk run ÷ floor = $(ratio "$(get husk.run)" "$(get floor.run)")."
        echo
    fi
    echo "Config floor (scripts/floor-config.c: the floor plus what this config asks of any runtime: its cgroup in every hierarchy, the mounts, device nodes, masked and read-only paths, capabilities, a state record; no runtime around it): $(get floor_config.run) ms$([[ -n $floor ]] && echo " = $(ratio "$(get floor_config.run)" "$(get floor.run)") × the floor"); husk run ÷ config floor = $(ratio "$(get husk.run)" "$(get floor_config.run)")."
    echo
    echo "## husk's syscall budget (strace -f -c: the command and every process it starts; create: husk alone)"
    echo
    echo "| command | syscalls | openat | clone/fork | execve | mount | fsync |"
    echo "|---|---|---|---|---|---|---|"
    for c in $SYSCMDS; do
        f=$work/strace.$c
        echo "| $c | $(total "$f") | $(count "$f" openat open openat2) | $(count "$f" clone clone3 fork vfork) | $(count "$f" execve execveat) | $(count "$f" mount mount_setattr move_mount open_tree fsmount) | $(count "$f" fsync fdatasync) |"
    done
    echo
    echo "## husk at scale (ms; stats samples twice, 200 ms apart, for cpu %)"
    echo
    printf '| containers |'
    for n in $SCALE; do printf ' %s |' "${SC[$n]}"; done
    echo
    printf '|---|'
    for _ in $SCALE; do printf -- '---|'; done
    echo
    for c in list state stats; do
        printf '| %s |' "$c"
        for n in $SCALE; do printf ' %s |' "$(get "scale.$c.$n")"; done
        echo
    done
} | tee "$OUT/results.md"

# ------------------------------------------------------------------ chart
# Bars of the latency rows, one group per measure, one colour per runtime.
{
    keys="run create start delete cycle"
    colours=('#1b7837' '#762a83' '#e08214' '#2166ac' '#b2182b')
    max=0
    for k in $keys; do for lab in "${LABELS[@]}"; do
        v=$(get "$lab.$k")
        [[ $v != n/a ]] && max=$(awk -v a="$max" -v b="$v" 'BEGIN {print (b > a ? b : a)}')
    done; done
    nl=${#LABELS[@]}
    gw=$((nl * 22 + 30))
    width=$((90 + 5 * gw))
    echo "<svg xmlns='http://www.w3.org/2000/svg' width='$width' height='300' font-family='sans-serif' font-size='12'>"
    echo "<text x='10' y='18' font-size='14'>Median latency (ms, lower is better), $(uname -r), $(nproc) CPUs</text>"
    x=60
    for k in $keys; do
        i=0
        for lab in "${LABELS[@]}"; do
            v=$(get "$lab.$k")
            if [[ $v != n/a ]]; then
                h=$(awk -v v="$v" -v m="$max" 'BEGIN {printf "%d", v / m * 200}')
                bx=$((x + i * 22))
                echo "<rect x='$bx' y='$((250 - h))' width='20' height='$h' fill='${colours[$i]}'/>"
                echo "<text x='$((bx + 10))' y='$((246 - h))' text-anchor='middle' font-size='9'>$v</text>"
            fi
            i=$((i + 1))
        done
        echo "<text x='$((x + nl * 11))' y='266' text-anchor='middle'>$k</text>"
        x=$((x + gw))
    done
    i=0
    for lab in "${LABELS[@]}"; do
        echo "<rect x='$((60 + i * 90))' y='278' width='12' height='12' fill='${colours[$i]}'/><text x='$((76 + i * 90))' y='289'>$lab</text>"
        i=$((i + 1))
    done
    echo "</svg>"
} >"$OUT/chart.svg"
log "wrote $OUT/results.md and $OUT/chart.svg"
