#!/usr/bin/env bash
# Interleaved A/B of bulk throughput for two commits: one iperf3 stream each way (5 s, as run.sh measures it) through
# each build's Quickstart (Release, socket completions inline), the balancers pinned to core 0, the iperf3 server and
# client to core 1, alternating which build goes first each round. Prints each build's median and range per
# direction, and after/before. For changes to the relay's buffering, which the request-rate A/B (ab.sh) cannot see.
#
#   bash benchmarks/ab-bulk.sh BEFORE_REF AFTER_REF       (ROUNDS=8 to change the default)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_REF AFTER_REF" >&2; exit 2; }
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-8}
WORK_PREFIX=lb-ab-bulk
# shellcheck source=benchmarks/processes.sh
. "$ROOT/benchmarks/processes.sh"
if ! need iperf3; then
  echo "installing iperf3..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null
fi

declare -A REF=([before]=$1 [after]=$2) PORT=([before]=9511 [after]=9521)
build_refs "$1" "$2"

start iperf taskset -c 1 iperf3 -s -p 5301
for build in before after; do
  start "$build" taskset -c 0 dotnet "$WORK/$build/examples/Quickstart/bin/Release/net10.0/Quickstart.dll" \
    --listen "127.0.0.1:${PORT[$build]}" --backend 127.0.0.1:5301 --no-health-checks --quiet
done
for port in 5301 "${PORT[before]}" "${PORT[after]}"; do wait_port "$port"; done

# The iperf3 server serves one test at a time, and takes wait_port's probes for clients that never said anything: a
# test that starts while it is still rejecting one of those fails at once, and is run again.
iperf_run() { # iperf_run PORT [-R] -> Gbit/s
  for _ in 1 2 3; do
    taskset -c 1 iperf3 -c 127.0.0.1 -p "$1" -t 5 -J ${2:-} >"$WORK/iperf.json" 2>&1 || true
    python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' \
      "$WORK/iperf.json" 2>/dev/null && return 0
    sleep 1
  done
  echo "iperf3 failed three times through port $1; see $WORK/iperf.json" >&2
  return 1
}

echo "warming up..." >&2
for build in before after; do iperf_run "${PORT[$build]}" >/dev/null; iperf_run "${PORT[$build]}" -R >/dev/null; done
echo "round build direction gbit_s" >"$WORK/bulk.txt"
for round in $(seq 1 "$ROUNDS"); do
  order="before after"; [ $((round % 2)) = 0 ] && order="after before"
  for direction in up down; do
    flag=""; [ "$direction" = down ] && flag=-R
    for build in $order; do
      echo "$round $build $direction $(iperf_run "${PORT[$build]}" $flag)" | tee -a "$WORK/bulk.txt" >&2
    done
  done
done

python3 - "$WORK/bulk.txt" "${REF[before]}" "${REF[after]}" <<'PY'
import statistics as st, sys
path, before, after = sys.argv[1:]
rows = [line.split() for line in open(path).read().splitlines()[1:]]
print("| build | direction | Gbit/s, median (min-max) |")
print("| --- | --- | --- |")
for direction in ("up", "down"):
    v = {b: [float(r[3]) for r in rows if r[1] == b and r[2] == direction] for b in ("before", "after")}
    for b, ref in (("before", before), ("after", after)):
        print(f"| {ref} | {direction} | {st.median(v[b]):.2f} ({min(v[b]):.2f}-{max(v[b]):.2f}) |")
    per_round = [a / b for a, b in zip(v["after"], v["before"])]
    print(f"| after/before | {direction} | {st.median(v['after']) / st.median(v['before']):.3f} "
          f"(per round: median {st.median(per_round):.3f}, {min(per_round):.2f}-{max(per_round):.2f}) |")
PY
echo "(raw data in $WORK)" >&2
