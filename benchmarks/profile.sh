#!/usr/bin/env bash
# Where LoadBalancer.Reactive's time goes, per request, next to HAProxy: the system calls each makes
# (strace -c), CPU split into user and kernel time (/proc), and for LoadBalancer.Reactive the bytes
# allocated, garbage collections and thread-pool work items (dotnet-counters). Both balancers run pinned
# to core 0 over three nginx backends, with wrk on core 1, for keep-alive requests and for one request per
# connection. Installs what it needs, stops everything it started by PID, and takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${SECONDS_EACH:-5}
WORK_PREFIX=lb-profile
# shellcheck source=benchmarks/processes.sh
. "$ROOT/benchmarks/processes.sh"
if ! need haproxy || ! need nginx || ! need wrk || ! need strace; then
  echo "installing haproxy, nginx, wrk and strace..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy nginx wrk strace >/dev/null
fi
COUNTERS="$WORK/tools/dotnet-counters"
dotnet tool install dotnet-counters --version 10.0.750501 --tool-path "$WORK/tools" >/dev/null

echo "building LoadBalancer.Reactive (Release)..." >&2
dotnet build -c Release examples/Quickstart -nologo -v quiet >/dev/null

start_http_backends 9201 9202 9203
start haproxy taskset -c 0 haproxy -db -f "$WORK/haproxy.cfg"
start ours taskset -c 0 dotnet "$ROOT/examples/Quickstart/bin/Release/net10.0/Quickstart.dll" --listen 127.0.0.1:9213 \
  --backend 127.0.0.1:9201 --backend 127.0.0.1:9202 --backend 127.0.0.1:9203 --no-health-checks --quiet
for port in 9201 9211 9213; do wait_port $port; done

load() { # load PORT SECONDS [wrk flags...] -> requests made
  local port=$1 seconds=$2; shift 2
  taskset -c 1 wrk -t1 -c50 -d"${seconds}s" "$@" "http://127.0.0.1:$port/" | awk '/requests in/ { print $1 }'
}
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }

profile() { # profile NAME PORT MODE [wrk flags...]
  local name=$1 port=$2 mode=$3; shift 3
  local pid requests before after
  pid=$(cat "$WORK/$name.pid")
  load "$port" 3 "$@" >/dev/null   # warm-up
  load "$port" 3 "$@" >/dev/null

  # CPU per request, undisturbed.
  before=$(cpu_ticks "$pid")
  requests=$(load "$port" "$SECONDS_EACH" "$@")
  after=$(cpu_ticks "$pid")
  read -r user kernel < <(awk -v b="$before" -v a="$after" -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(b, x, " "); split(a, y, " "); printf "%.1f %.1f\n", (y[1] - x[1]) / hz / n * 1e6, (y[2] - x[2]) / hz / n * 1e6 }')

  # Runtime counters per request (ours only).
  local runtime=""
  if [ "$name" = ours ]; then
    "$COUNTERS" collect -p "$pid" --refresh-interval 1 --duration "00:00:00:$((SECONDS_EACH + 2))" \
      --format csv -o "$WORK/counters.csv" >/dev/null 2>&1 &
    local collector=$!
    sleep 1
    requests=$(load "$port" "$SECONDS_EACH" "$@")
    wait "$collector" || true
    runtime=$(python3 - "$WORK/counters.csv" "$requests" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
def total(name):  # rates are increments per second: their sum is the total over the window
    return sum(float(r[4]) for r in rows[1:] if len(r) > 4 and r[3] == "Rate" and r[2].startswith(name))
n = float(sys.argv[2])
print(f"{total('dotnet.gc.heap.total_allocated') / n:.0f} B allocated, "
      f"{total('dotnet.thread_pool.work_item.count') / n:.2f} thread-pool items, "
      f"{total('dotnet.gc.collections') / n * 1000:.2f} GCs per 1,000")
PY
)
  fi

  # System calls per request, at the slower pace strace allows.
  timeout $((SECONDS_EACH + 3)) strace -c -f -p "$pid" -o "$WORK/strace-$name-$mode.txt" 2>/dev/null &
  local tracer=$!
  sleep 1
  requests=$(load "$port" "$SECONDS_EACH" "$@")
  kill -INT "$tracer" 2>/dev/null || true
  wait "$tracer" 2>/dev/null || true
  local calls
  # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall.
  calls=$(awk -v n="$requests" '$1 ~ /^[0-9.]+$/ && $NF != "total" && $4 / n >= 0.05 { printf "%s %.1f, ", $NF, $4 / n }' \
    "$WORK/strace-$name-$mode.txt")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$mode" "$user" "$kernel" "${calls%, }" "${runtime:--}"
}

{
  echo "| balancer | load | user µs/request | kernel µs/request | system calls per request (strace) | runtime, per request |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for mode in keep-alive new-connections; do
    flags=(); [ "$mode" = new-connections ] && flags=(-H "Connection: close")
    profile haproxy 9211 "$mode" "${flags[@]}"
    profile ours 9213 "$mode" "${flags[@]}"
  done
} | tee "$WORK/profile.md"
echo "(strace output and logs in $WORK)" >&2
