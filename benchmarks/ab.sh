#!/usr/bin/env bash
# Interleaved A/B of two commits of LoadBalancer.Reactive, for hot-path changes: both Quickstart builds run side by
# side, pinned to core 0, over three nginx backends on core 1, with wrk on core 1. After the same warm-up, each round
# measures each build's own CPU time per keep-alive request and per new connection (user + kernel from /proc, over
# wrk's request count), alternating which goes first so the machine's drift hits both alike; then allocations per
# request (dotnet-counters) and the live heap and resident memory per idle relayed connection (5,000 held with
# hold.py, dotnet-gcdump). Prints medians, ranges and ratios. Installs what it needs; stops what it started by PID.
#
#   bash benchmarks/ab.sh BEFORE_REF AFTER_REF       (ROUNDS=8 SECONDS_EACH=5 IDLE=5000 to change the defaults)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_REF AFTER_REF" >&2; exit 2; }
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-8}
SECONDS_EACH=${SECONDS_EACH:-5}
IDLE=${IDLE:-5000}
WORK_PREFIX=lb-ab
# shellcheck source=benchmarks/processes.sh
. "$ROOT/benchmarks/processes.sh"
if ! need nginx || ! need wrk; then
  echo "installing nginx and wrk..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null
fi
dotnet tool install dotnet-counters --version 10.0.750501 --tool-path "$WORK/tools" >/dev/null
dotnet tool install dotnet-gcdump --version 10.0.750501 --tool-path "$WORK/tools" >/dev/null
ulimit -n "$(ulimit -Hn)"

declare -A REF=([before]=$1 [after]=$2) PORT=([before]=9410 [after]=9420)
build_refs "$1" "$2"

start_http_backends 9401 9402 9403
for build in before after; do
  start "$build" taskset -c 0 dotnet "$WORK/$build/examples/Quickstart/bin/Release/net10.0/Quickstart.dll" \
    --listen "127.0.0.1:${PORT[$build]}" --backend 127.0.0.1:9401 --backend 127.0.0.1:9402 --backend 127.0.0.1:9403 \
    --no-health-checks --quiet
done
for port in 9401 "${PORT[before]}" "${PORT[after]}"; do wait_port "$port"; done

pid() { cat "$WORK/$1.pid"; }
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
load() { # load BUILD MODE SECONDS -> "requests requests/s"
  local flags=(); [ "$2" = new-connections ] && flags=(-H "Connection: close")
  taskset -c 1 wrk -t1 -c50 -d"$3s" "${flags[@]}" "http://127.0.0.1:${PORT[$1]}/" >"$WORK/wrk.out" 2>&1
  awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } END { print n, r }' "$WORK/wrk.out"
}

echo "warming up..." >&2
for _ in 1 2; do for build in before after; do for mode in keep-alive new-connections; do load "$build" "$mode" 4 >/dev/null; done; done; done

echo "round build mode requests rps cpu_us" >"$WORK/cpu.txt"
for round in $(seq 1 "$ROUNDS"); do
  order="before after"; [ $((round % 2)) = 0 ] && order="after before"
  for mode in keep-alive new-connections; do
    for build in $order; do
      p=$(pid "$build"); t0=$(ticks "$p")
      read -r requests rps < <(load "$build" "$mode" "$SECONDS_EACH")
      t1=$(ticks "$p")
      cpu=$(awk -v b="$t0" -v a="$t1" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { split(b, x, " "); split(a, y, " "); printf "%.2f", ((y[1] - x[1]) + (y[2] - x[2])) / hz / n * 1e6 }')
      echo "$round $build $mode $requests $rps $cpu" | tee -a "$WORK/cpu.txt" >&2
    done
  done
done

echo "build mode allocated_bytes_per_request" >"$WORK/alloc.txt"
for build in before after; do
  for mode in keep-alive new-connections; do
    "$WORK/tools/dotnet-counters" collect -p "$(pid "$build")" --refresh-interval 1 --duration "00:00:00:$((SECONDS_EACH + 2))" \
      --format csv -o "$WORK/counters-$build-$mode.csv" >/dev/null 2>&1 &
    collector=$!
    sleep 1
    read -r requests _ < <(load "$build" "$mode" "$SECONDS_EACH")
    wait "$collector" || true
    python3 - "$WORK/counters-$build-$mode.csv" "$requests" "$build" "$mode" >>"$WORK/alloc.txt" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
# Rates are increments per second: their sum is the total over the window.
total = sum(float(r[4]) for r in rows[1:] if len(r) > 4 and r[3] == "Rate" and r[2].startswith("dotnet.gc.heap.total_allocated"))
print(sys.argv[3], sys.argv[4], round(total / float(sys.argv[2])))
PY
  done
done

# Idle connections: the first hold of each process only (a second one reuses memory the first left behind).
echo "build resident_kib_per_connection live_heap_bytes_per_connection" >"$WORK/idle.txt"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
heap() { "$WORK/tools/dotnet-gcdump" collect -p "$1" -o "$2" >/dev/null 2>&1; "$WORK/tools/dotnet-gcdump" report "$2" | awk '/GC Heap bytes/ { gsub(",", "", $1); print $1; exit }'; }
for build in before after; do
  p=$(pid "$build")
  idle_heap=$(heap "$p" "$WORK/idle-$build.gcdump"); idle_rss=$(rss "$p")
  coproc HOLD { taskset -c 1 python3 "$ROOT/benchmarks/hold.py" 127.0.0.1 "${PORT[$build]}" "$IDLE"; }
  read -r _ <&"${HOLD[0]}"
  sleep 2
  held_rss=$(rss "$p"); held_heap=$(heap "$p" "$WORK/held-$build.gcdump")
  exec {HOLD[1]}>&-
  wait "$HOLD_PID" 2>/dev/null || true
  awk -v b="$build" -v r0="$idle_rss" -v r1="$held_rss" -v h0="$idle_heap" -v h1="$held_heap" -v n="$IDLE" \
    'BEGIN { printf "%s %.2f %.0f\n", b, (r1 - r0) / n, (h1 - h0) / n }' >>"$WORK/idle.txt"
  sleep 3
done

python3 - "$WORK" "${REF[before]}" "${REF[after]}" <<'PY'
import statistics as st, sys
work, before, after = sys.argv[1:]
rows = [line.split() for line in open(f"{work}/cpu.txt").read().splitlines()[1:]]
alloc = {(b, m): v for b, m, v in (line.split() for line in open(f"{work}/alloc.txt").read().splitlines()[1:])}
idle = {b: (r, h) for b, r, h in (line.split() for line in open(f"{work}/idle.txt").read().splitlines()[1:])}
print(f"| build | mode | CPU µs per request, median (min-max) | requests/s, median | allocated B per request |")
print("| --- | --- | --- | --- | --- |")
for mode in ("keep-alive", "new-connections"):
    cpu = {b: [float(r[5]) for r in rows if r[1] == b and r[2] == mode] for b in ("before", "after")}
    rps = {b: [float(r[4]) for r in rows if r[1] == b and r[2] == mode] for b in ("before", "after")}
    for b, ref in (("before", before), ("after", after)):
        print(f"| {ref} | {mode} | {st.median(cpu[b]):.2f} ({min(cpu[b]):.2f}-{max(cpu[b]):.2f}) | {st.median(rps[b]):.0f} | {alloc[(b, mode)]} |")
    per_round = [a / b for a, b in zip(cpu["after"], cpu["before"])]
    print(f"| after/before | {mode} | {st.median(cpu['after']) / st.median(cpu['before']):.3f} "
          f"(per round: median {st.median(per_round):.3f}, {min(per_round):.2f}-{max(per_round):.2f}) | | |")
print()
for b, ref in (("before", before), ("after", after)):
    print(f"{ref}: {idle[b][0]} KiB resident and {idle[b][1]} B live heap per idle relayed connection")
PY
echo "(raw data in $WORK)" >&2
