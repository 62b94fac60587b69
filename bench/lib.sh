# shellcheck shell=bash
# bench/lib.sh: helpers shared by the benchmark scripts (source it).
#
# A benchmark builds imgxfer (bench_build), makes its images in scratch
# folders (bench_scratch), then for each case calls bench_run once per
# tool and bench_table to print seconds, the ratio to imgxfer and peak RSS.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_REPEAT=${BENCH_REPEAT:-1}
# The scratch folders to remove at exit, one per line: a file, because
# bench_scratch is called in a $(...) subshell.
BENCH_SCRATCH_LIST=$(mktemp /tmp/imgxfer-bench-scratch.XXXXXX)

# The imgxfer serve daemons started by bench_serve, stopped at exit
# before their folders are removed.
BENCH_SERVE_PIDS=()

bench_cleanup() {
  local d pid
  for pid in "${BENCH_SERVE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_SERVE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  while read -r d; do
    rm -rf "$d"
  done < "$BENCH_SCRATCH_LIST"
  rm -f "$BENCH_SCRATCH_LIST"
}
# A script that needs its own EXIT trap must call bench_cleanup from it.
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# Builds imgxfer in build-bench (optimized, no sanitizers) and sets IMGXFER.
bench_build() {
  local build=$BENCH_ROOT/build-bench
  [ -d "$build" ] ||
    meson setup "$build" "$BENCH_ROOT" --buildtype=release \
      -Dintrospection=disabled -Dtests=false >/dev/null
  ninja -C "$build" >/dev/null
  # shellcheck disable=SC2034  # used by the scripts that source this
  IMGXFER=$build/cmd/imgxfer
}

# bench_scratch PARENT: prints a new folder under PARENT, removed at exit.
bench_scratch() {
  local d
  d=$(mktemp -d "$1/imgxfer-bench.XXXXXX")
  echo "$d" >> "$BENCH_SCRATCH_LIST"
  echo "$d"
}

# bench_serve OUT ARG...: starts `$IMGXFER serve` on a free loopback port
# with ARG... (certificate, sockets), its output in OUT, and waits up to
# 10 s for it to listen. Sets BENCH_SERVE_PID and BENCH_SERVE_URL (empty
# if it did not start); the daemon is stopped at exit.
bench_serve() {
  local out=$1
  shift
  "$IMGXFER" serve --foreground --host 127.0.0.1 --port 0 "$@" \
    > "$out" 2>&1 &
  BENCH_SERVE_PID=$!
  BENCH_SERVE_PIDS+=("$BENCH_SERVE_PID")
  for _ in $(seq 100); do
    grep -qs '^listening on ' "$out" && break
    sleep 0.1
  done
  # shellcheck disable=SC2034  # used by the scripts that source this
  BENCH_SERVE_URL=$(sed -n 's/^listening on //p' "$out")
}

# bench_certificates DIR: a CA (DIR/ca.pem) and a certificate it signs for
# 127.0.0.1 and localhost (DIR/server.pem, DIR/server.key), for a daemon
# its clients check.
bench_certificates() {
  local dir=$1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$dir/ext.cnf"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=bench CA" \
    2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" \
    2>/dev/null
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" \
    -CAkey "$dir/ca.key" -CAcreateserial -CAserial "$dir/ca.srl" \
    -out "$dir/server.pem" -days 2 -extfile "$dir/ext.cnf" 2>/dev/null
}

# bench_random_file PATH SIZE: SIZE bytes (rounded up to 64 MiB) of random
# data with no zero blocks: one 64 MiB piece of /dev/urandom repeated, as
# making it all from /dev/urandom would take longer than what is measured.
bench_random_file() {
  local path=$1 size=$2 piece=$((64 * 1024 * 1024)) off
  head -c "$piece" /dev/urandom > "$path.piece"
  for ((off = 0; off < size; off += piece)); do cat "$path.piece"; done \
    > "$path"
  rm -f "$path.piece"
}

# bench_free_gib DIR: GiB available in DIR's file system.
bench_free_gib() {
  df -P -BG "$1" | awk 'NR == 2 { sub("G", "", $4); print $4 }'
}

# Tells whether the page cache can be dropped (root, not forbidden).
bench_can_drop_caches() {
  sync && { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null
}

# The tools whose programs and libraries are loaded back into the page
# cache after it is dropped: a run times reading the data from disk, not
# loading the tool (each tool's cold start is measured apart, see
# bench_cold_start).
BENCH_TOOLS=(qemu-img qemu-nbd nbdcopy cp sync b2sum sha256sum curl)

bench_warm_tools() {
  local tool
  for tool in "${IMGXFER:-}" "${BENCH_TOOLS[@]}"; do
    [ -n "$tool" ] && command -v "$tool" >/dev/null &&
      "$tool" --version >/dev/null 2>&1
  done
  return 0
}

bench_drop_caches() {
  [ "${BENCH_DROP_CACHES:-0}" = 1 ] || return 0
  sync
  echo 3 > /proc/sys/vm/drop_caches
  bench_warm_tools
}

# bench_cold_start TOOL...: prints how long each TOOL --version takes
# with the page cache dropped (loading its program and libraries from
# disk), in milliseconds. Needs root.
bench_cold_start() {
  local tool t0 line="cold start (--version, page cache dropped):"
  for tool in "$@"; do
    sync
    echo 3 > /proc/sys/vm/drop_caches
    t0=$EPOCHREALTIME
    "$tool" --version >/dev/null 2>&1
    line+=" $(basename "$tool") $(bench_ms_since "$t0") ms,"
  done
  echo "${line%,}"
}

# bench_ms_since T0: milliseconds since T0 (an $EPOCHREALTIME).
bench_ms_since() {
  local now=$EPOCHREALTIME
  echo $(( (${now/./} - ${1/./}) / 1000 ))
}

# Results of the current case: parallel arrays. CPU time (user + system)
# is the tool's and, when BENCH_SERVER_PID names a running server, the
# server's over the run: on a shared machine it moves far less than the
# wall clock.
BENCH_NAMES=()
BENCH_SECONDS=()
BENCH_RSS=()
BENCH_CPU=()
BENCH_SERVER_CPU=()

bench_reset() {
  BENCH_NAMES=()
  BENCH_SECONDS=()
  BENCH_RSS=()
  BENCH_CPU=()
  BENCH_SERVER_CPU=()
}

# bench_cpu_of PID: CPU seconds a running process (all its threads) used.
bench_cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
    "/proc/$1/stat"
}

bench_case() {
  bench_reset
  printf '\n%s\n' "$*"
}

# bench_run NAME PREPARE -- COMMAND...: runs PREPARE (a shell snippet that
# makes the target, untimed), drops the caches when asked, then times
# COMMAND; BENCH_REPEAT runs, the fastest counts. A failing command is
# recorded as "failed" and the benchmark goes on.
bench_run() {
  local name=$1 prepare=$2 i out best="" rss="" cpu="" scpu="" secs kib t0 t1
  local s0=""
  shift 3
  out=$(mktemp)
  for ((i = 0; i < BENCH_REPEAT; i++)); do
    eval "$prepare"
    bench_drop_caches
    # Wall clock from bash (microseconds; time's %e has 10 ms steps),
    # peak RSS from /usr/bin/time.
    [ -z "${BENCH_SERVER_PID:-}" ] || s0=$(bench_cpu_of "$BENCH_SERVER_PID")
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f '%M %U %S' -o "$out" "$@" >/dev/null 2>"$out.err"; then
      echo "  $name failed: $(tail -n 3 "$out.err" | tr '\n' ' ')" >&2
      best=failed rss="" cpu="" scpu=""
      break
    fi
    t1=$EPOCHREALTIME
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    kib=$(tail -n 1 "$out" | cut -d' ' -f1)
    if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$secs rss=$kib
      cpu=$(tail -n 1 "$out" | awk '{ printf "%.2f", $2 + $3 }')
      scpu=
      [ -z "$s0" ] || scpu=$(awk -v a="$s0" -v b="$(bench_cpu_of "$BENCH_SERVER_PID")" \
        'BEGIN { printf "%.2f", b - a }')
    fi
  done
  rm -f "$out" "$out.err"
  BENCH_NAMES+=("$name")
  BENCH_SECONDS+=("$best")
  BENCH_RSS+=("$rss")
  BENCH_CPU+=("$cpu")
  BENCH_SERVER_CPU+=("$scpu")
}

# Prints the current case: the first row is the reference (imgxfer); the
# ratio is a tool's time over the reference's (above 1: imgxfer is faster).
bench_table() {
  local i ref=${BENCH_SECONDS[0]} ratio rss server=""
  [ -z "$(printf %s "${BENCH_SERVER_CPU[@]}")" ] || server="server CPU s"
  printf '  %-44s %8s %7s %9s %6s %s\n' tool seconds ratio "peak RSS" \
    "CPU s" "$server"
  for i in "${!BENCH_NAMES[@]}"; do
    ratio=-
    if [ "${BENCH_SECONDS[$i]}" != failed ] && [ "$ref" != failed ]; then
      ratio=$(awk -v a="${BENCH_SECONDS[$i]}" -v b="$ref" \
        'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    fi
    rss=-
    [ -n "${BENCH_RSS[$i]}" ] && rss="$((BENCH_RSS[i] / 1024)) MiB"
    printf '  %-44s %8s %7s %9s %6s %s\n' "${BENCH_NAMES[$i]}" \
      "${BENCH_SECONDS[$i]}" "$ratio" "$rss" "${BENCH_CPU[$i]:--}" \
      "${BENCH_SERVER_CPU[$i]:-}"
  done
}

# Rounds: on a shared machine the load changes from one minute to the
# next, and the first run to touch memory pays for faulting it in. A
# script can run all the tools of a case once per round (bench_case, the
# bench_run calls, then bench_keep_best) and print each tool's fastest
# round with bench_best_table. The rows must come in the same order in
# every round.
BENCH_BEST_SECONDS=()
BENCH_BEST_RSS=()
BENCH_BEST_CPU=()
BENCH_BEST_SERVER_CPU=()

bench_rounds_begin() {
  BENCH_BEST_SECONDS=()
  BENCH_BEST_RSS=()
  BENCH_BEST_CPU=()
  BENCH_BEST_SERVER_CPU=()
}

# A tool that failed in any round stays "failed".
bench_keep_best() {
  local i s b
  for i in "${!BENCH_NAMES[@]}"; do
    s=${BENCH_SECONDS[$i]} b=${BENCH_BEST_SECONDS[$i]:-}
    if [ "$b" = failed ]; then
      continue
    elif [ -z "$b" ] || [ "$s" = failed ] ||
      awk -v a="$s" -v b="$b" 'BEGIN { exit !(a < b) }'; then
      BENCH_BEST_SECONDS[i]=$s
      BENCH_BEST_RSS[i]=${BENCH_RSS[$i]}
      BENCH_BEST_CPU[i]=${BENCH_CPU[$i]}
      BENCH_BEST_SERVER_CPU[i]=${BENCH_SERVER_CPU[$i]}
    fi
  done
}

bench_best_table() {
  BENCH_SECONDS=("${BENCH_BEST_SECONDS[@]}")
  BENCH_RSS=("${BENCH_BEST_RSS[@]}")
  BENCH_CPU=("${BENCH_BEST_CPU[@]}")
  BENCH_SERVER_CPU=("${BENCH_BEST_SERVER_CPU[@]}")
  bench_table
}

# A queue of runs for one round, started in a rotated order: the tool
# that runs first in a round changes from round to round, so that no tool
# always pays for coming first (after an image was made, after the caches
# were dropped). Results land in the order the runs were queued.
#   bench_queue NAME PREPARE CHECK -- COMMAND...   (CHECK: a shell snippet
#       run untimed after a successful run in round 1, e.g. a comparison)
#   bench_queue_run ROUND
BENCH_Q_NAMES=()
BENCH_Q_PREPARE=()
BENCH_Q_CHECK=()
BENCH_Q_COMMAND=()

bench_queue() {
  BENCH_Q_NAMES+=("$1")
  BENCH_Q_PREPARE+=("$2")
  BENCH_Q_CHECK+=("$3")
  shift 4
  BENCH_Q_COMMAND+=("$(printf '%q ' "$@")")
}

bench_queue_run() {
  local round=$1 n=${#BENCH_Q_NAMES[@]} k i secs=() rss=() cpu=() scpu=()
  for ((k = 0; k < n; k++)); do
    i=$(((k + round - 1) % n))
    bench_reset
    eval "bench_run \"\${BENCH_Q_NAMES[$i]}\" \"\${BENCH_Q_PREPARE[$i]}\" -- ${BENCH_Q_COMMAND[$i]}"
    secs[i]=${BENCH_SECONDS[0]}
    rss[i]=${BENCH_RSS[0]}
    cpu[i]=${BENCH_CPU[0]}
    scpu[i]=${BENCH_SERVER_CPU[0]}
    if [ "$round" -eq 1 ] && [ "${secs[$i]}" != failed ] &&
      [ -n "${BENCH_Q_CHECK[$i]}" ]; then
      eval "${BENCH_Q_CHECK[$i]}"
    fi
  done
  BENCH_NAMES=("${BENCH_Q_NAMES[@]}")
  BENCH_SECONDS=("${secs[@]}")
  BENCH_RSS=("${rss[@]}")
  BENCH_CPU=("${cpu[@]}")
  BENCH_SERVER_CPU=("${scpu[@]}")
  BENCH_Q_NAMES=()
  BENCH_Q_PREPARE=()
  BENCH_Q_CHECK=()
  BENCH_Q_COMMAND=()
}
