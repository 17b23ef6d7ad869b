#!/usr/bin/env bash
# Side by side on 127.0.0.1: HAProxy, nginx (stream) and LoadBalancer.Reactive in TCP mode with least
# connections, each pinned to core 0, against the same backends and load generators pinned to core 1.
# Measures keep-alive requests/s with p50/p99 (wrk, 50 connections), new connections/s (one request per
# connection), bulk throughput each way (iperf3), and memory per idle relayed connection (5,000 held),
# and prints one markdown table with each figure's ratio to HAProxy. A second table gives each balancer's
# footprint and cold start: resident memory (VmRSS) after the load phases, with the 5,000 idle connections
# held and a few seconds after they close; the time from launching a fresh instance to the first request
# relayed through it; and the p99 over that fresh instance's first 10 s of keep-alive load next to the warmed
# p99. Below it, LoadBalancer.Reactive's GC heap and collection count at the end (its runtime API's show info). Installs
# what it needs, stops everything it started by PID, and takes about eight minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-8}
TARGETS=${TARGETS:-direct haproxy nginx ours}   # a subset, such as TARGETS="haproxy ours", for a quicker look
IDLE=${IDLE:-5000}
WORK_PREFIX=lb-bench
# shellcheck source=benchmarks/processes.sh
. "$ROOT/benchmarks/processes.sh"
if ! need haproxy || ! need nginx || ! need wrk || ! need iperf3 || [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  echo "installing haproxy, nginx with the stream module, wrk and iperf3..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy nginx libnginx-mod-stream wrk iperf3 >/dev/null
fi
ulimit -n "$(ulimit -Hn)"   # as many descriptors as this machine allows (5,000 held connections need ~10,000)

echo "building LoadBalancer.Reactive (Release)..." >&2
dotnet build -c Release examples/Quickstart -nologo -v quiet >/dev/null
OURS="$ROOT/examples/Quickstart/bin/Release/net10.0/Quickstart.dll"
# OURS_AOT=1 runs ours as a Native AOT executable, OURS_R2R=1 on the JIT from ReadyToRun images (each published here
# first), instead of on the JIT alone.
if [ "${OURS_AOT:-0}" = 1 ]; then
  dotnet publish examples/Quickstart -c Release -r linux-x64 -p:PublishAot=true -o "$WORK/aot" -nologo -v quiet >/dev/null
  OURS_RUN=("$WORK/aot/Quickstart")
elif [ "${OURS_R2R:-0}" = 1 ]; then
  dotnet publish examples/Quickstart -c Release -r linux-x64 --self-contained false -p:PublishAot=false -p:PublishReadyToRun=true -o "$WORK/r2r" -nologo -v quiet >/dev/null
  OURS_RUN=(dotnet "$WORK/r2r/Quickstart.dll")
else
  OURS_RUN=(dotnet "$OURS")
fi

# The backends, on core 1: three tiny HTTP servers in one nginx, and an iperf3 server.
start_http_backends 9101 9102 9103
start iperf taskset -c 1 iperf3 -s -p 5201

# The balancers, each on core 0, each with a listener for HTTP and one for iperf3.
cat >"$WORK/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend http
  bind 127.0.0.1:9001
  default_backend http
backend http
  balance leastconn
  server b1 127.0.0.1:9101
  server b2 127.0.0.1:9102
  server b3 127.0.0.1:9103
frontend bulk
  bind 127.0.0.1:9011
  default_backend bulk
backend bulk
  server i1 127.0.0.1:5201
CONF
cat >"$WORK/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
worker_rlimit_nofile 20000;
events { worker_connections 9000; }
stream {
  upstream http { least_conn; server 127.0.0.1:9101; server 127.0.0.1:9102; server 127.0.0.1:9103; }
  upstream bulk { server 127.0.0.1:5201; }
  server { listen 127.0.0.1:9002; proxy_pass http; proxy_timeout 1h; }
  server { listen 127.0.0.1:9012; proxy_pass bulk; proxy_timeout 1h; }
}
CONF
start haproxy taskset -c 0 haproxy -db -f "$WORK/haproxy.cfg"
start nginx taskset -c 0 nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"
OURS_FLAGS=(--strategy least-connections --no-health-checks --quiet)
start ours taskset -c 0 "${OURS_RUN[@]}" --listen 127.0.0.1:9003 --backend 127.0.0.1:9101 --backend 127.0.0.1:9102 --backend 127.0.0.1:9103 "${OURS_FLAGS[@]}" \
  --admin "$WORK/ours-admin.sock"   # its runtime API, for the GC figures at the end
start ours-bulk taskset -c 0 "${OURS_RUN[@]}" --listen 127.0.0.1:9013 --backend 127.0.0.1:5201 "${OURS_FLAGS[@]}"
for port in 9101 5201 9001 9011 9002 9012 9003 9013; do wait_port $port; done

# The process that holds the relayed connections: nginx's worker, not its master.
holder_pid() {
  case $1 in
    haproxy) cat "$WORK/haproxy.pid" ;;
    nginx) pgrep -P "$(cat "$WORK/nginx.pid")" | head -1 ;;
    ours) cat "$WORK/ours.pid" ;;
  esac
}
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
# A balancer's whole resident memory: for nginx its master and the worker it forks (children found by PPID),
# summed; HAProxy with nbthread 1 and LoadBalancer.Reactive are one process each.
total_rss_kib() { # total_rss_kib NAME -> KiB (NAME as given to start, whose PID is in $WORK/NAME.pid)
  local pid total child
  pid=$(cat "$WORK/$1.pid")
  total=$(rss_kib "$pid")
  if [ "$1" = nginx ]; then
    for child in $(pgrep -P "$pid"); do total=$((total + $(rss_kib "$child"))); done
  fi
  echo "$total"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f\n", k / 1024 }'; }

wrk_run() { # wrk_run PORT [EXTRA...] -> "req/s p50 p99 requests"
  local port=$1; shift
  taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --latency "$@" "http://127.0.0.1:$port/" >"$WORK/wrk.out" 2>&1
  awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } / requests in / { n = $1 }
    END { printf "%.0f %s %s %d\n", rps, p50, p99, n }' "$WORK/wrk.out"
}

# CPU time a balancer used (user + kernel, in clock ticks): what a request costs it, whether or not the load
# generator's core was the limit.
TICK_US=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { if [ "$1" = direct ]; then echo 0; else awk '{ print $14 + $15 }' "/proc/$(holder_pid "$1")/stat"; fi; }
cpu_us() { # cpu_us NAME TICKS_BEFORE REQUESTS -> CPU microseconds per request, or nothing for direct
  [ "$1" = direct ] || awk -v a="$(cpu_ticks "$1")" -v b="$2" -v n="$3" -v t="$TICK_US" 'BEGIN { printf "%.1f\n", (a - b) * t / n }'
}

iperf_run() { # iperf_run PORT [-R] -> Gbit/s
  taskset -c 1 iperf3 -c 127.0.0.1 -p "$1" -t 5 -J ${2:-} >"$WORK/iperf.json" 2>&1
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$WORK/iperf.json"
}

idle_phase() { # idle_phase NAME PORT: sets MEM[NAME], KiB of the holding process's resident memory per idle
  # relayed connection, and the whole balancer's resident MiB after the load phases (RSS_LOAD), with the
  # connections held (RSS_HELD) and 3 s after they close (RSS_CLOSED)
  local pid before after hold_pid
  pid=$(holder_pid "$1")
  RSS_LOAD[$1]=$(mib "$(total_rss_kib "$1")")
  before=$(rss_kib "$pid")
  coproc HOLD { taskset -c 1 python3 "$ROOT/benchmarks/hold.py" 127.0.0.1 "$2" "$IDLE"; }
  hold_pid=$HOLD_PID
  read -r _ <&"${HOLD[0]}"
  sleep 2
  after=$(rss_kib "$pid")
  RSS_HELD[$1]=$(mib "$(total_rss_kib "$1")")
  exec {HOLD[1]}>&-
  wait "$hold_pid" 2>/dev/null || true
  MEM[$1]=$(awk -v b="$before" -v a="$after" -v n="$IDLE" 'BEGIN { printf "%.1f\n", (a - b) / n }')
  sleep 3
  RSS_CLOSED[$1]=$(mib "$(total_rss_kib "$1")")
}

gc_counters() { # gc_counters SOCKET -> "heap_MiB total gen0 gen1 gen2": the GC heap after the last collection and the
  # collections since the process started, from the runtime API's show info (a JIT or a Native AOT build alike)
  python3 - "$1" <<'PY'
import json, socket, sys
with socket.socket(socket.AF_UNIX) as admin:
    admin.settimeout(10)
    admin.connect(sys.argv[1])
    admin.sendall(b"json show info\nquit\n")
    reply = b""
    while chunk := admin.recv(65536):
        reply += chunk
info = json.loads(next(line for line in reply.decode().splitlines() if line.startswith("{")))
gens = info["gcCollections"]
print(f"{info['gcHeapBytes'] / 1048576:.1f} {sum(gens)} {gens[0]} {gens[1]} {gens[2]}")
PY
}

# Cold start: a fresh instance of each balancer on its own port (core 0, as the others), the wall time from
# launching it to the first request relayed through it (curl on core 1, polled every 5 ms), and then at once
# the p99 of its first 10 s of keep-alive load (the same wrk as the keep-alive phase).
sed -e 's/127.0.0.1:9001/127.0.0.1:9021/' -e 's/127.0.0.1:9011/127.0.0.1:9031/' "$WORK/haproxy.cfg" >"$WORK/haproxy-cold.cfg"
sed -e 's/127.0.0.1:9002/127.0.0.1:9022/' -e 's/127.0.0.1:9012/127.0.0.1:9032/' -e "s#$WORK/nginx.pid#$WORK/nginx-cold.pid#" \
  "$WORK/nginx.conf" >"$WORK/nginx-cold.conf"
declare -A COLD_PORT=([haproxy]=9021 [nginx]=9022 [ours]=9023)
cold_start() { # cold_start NAME: sets START_MS[NAME] and COLD_P99[NAME]
  local port=${COLD_PORT[$1]} t0 pid ok=0
  t0=$(date +%s%N)
  case $1 in
    haproxy) start haproxy-cold taskset -c 0 haproxy -db -f "$WORK/haproxy-cold.cfg" ;;
    nginx) start nginx-cold taskset -c 0 nginx -p "$WORK" -c "$WORK/nginx-cold.conf" -e "$WORK/nginx-cold-error.log" ;;
    ours) start ours-cold taskset -c 0 "${OURS_RUN[@]}" --listen 127.0.0.1:$port --backend 127.0.0.1:9101 \
      --backend 127.0.0.1:9102 --backend 127.0.0.1:9103 "${OURS_FLAGS[@]}" ;;
  esac
  for _ in $(seq 1 2000); do
    if taskset -c 1 curl -sf -o /dev/null -m 1 "http://127.0.0.1:$port/"; then ok=1; break; fi
    sleep 0.005
  done
  START_MS[$1]=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ $ok = 1 ] || { echo "no request relayed through a fresh $1 within the polling window; see $WORK" >&2; START_MS[$1]=""; }
  local _rps p99 _rest
  DURATION=10 wrk_run "$port" >/dev/null
  read -r _rps _ p99 _rest < <(awk '/Requests\/sec/ { rps = $2 } /^ +99%/ { p99 = $2 } END { print rps, 0, p99 }' "$WORK/wrk.out")
  COLD_P99[$1]=$(to_ms "$p99")
  pid=$(cat "$WORK/$1-cold.pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Speed is measured in ROUNDS interleaved rounds (every target once per round) and each figure is the
# median of its rounds: this machine's speed drifts by tens of percent within minutes, and interleaving
# lets every target see the same drift. Memory is measured once, at the end.
to_ms() { awk -v t="$1" 'BEGIN { v = t + 0; if (t ~ /us$/) v /= 1000; else if (t ~ /ms$/) v += 0; else if (t ~ /s$/) v *= 1000; printf "%.2f", v }'; }
declare -A KA P50 P99 NEW UP DOWN MEM KA_CPU NEW_CPU RSS_LOAD RSS_HELD RSS_CLOSED START_MS COLD_P99
warm() { # warm NAME HTTP_PORT: the same unrecorded warm-up for everyone; .NET code is compiled and then
  # recompiled with profile data in its first seconds, which C balancers do not need.
  echo "warming up $1..." >&2
  DURATION=$WARMUP wrk_run "$2" >/dev/null
  DURATION=$WARMUP wrk_run "$2" -H "Connection: close" >/dev/null
}
measure_speed() { # measure_speed NAME HTTP_PORT BULK_PORT: appends this round's figures
  local ka p50 p99 new n before
  before=$(cpu_ticks "$1")
  read -r ka p50 p99 n < <(wrk_run "$2")
  KA_CPU[$1]+="$(cpu_us "$1" "$before" "$n") "
  before=$(cpu_ticks "$1")
  read -r new _ _ n < <(wrk_run "$2" -H "Connection: close")
  NEW_CPU[$1]+="$(cpu_us "$1" "$before" "$n") "
  KA[$1]+="$ka "; P50[$1]+="$(to_ms "$p50") "; P99[$1]+="$(to_ms "$p99") "; NEW[$1]+="$new "
  UP[$1]+="$(iperf_run "$3") "; DOWN[$1]+="$(iperf_run "$3" -R) "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A PORTS=([direct]="9101 5201" [haproxy]="9001 9011" [nginx]="9002 9012" [ours]="9003 9013")
for name in $TARGETS; do
  # shellcheck disable=SC2086
  warm "$name" ${PORTS[$name]}
done
for round in $(seq 1 "$ROUNDS"); do
  for name in $TARGETS; do
    echo "round $round of $ROUNDS: $name..." >&2
    # shellcheck disable=SC2086
    measure_speed "$name" ${PORTS[$name]}
  done
done
for name in $TARGETS; do
  for figure in KA P50 P99 NEW UP DOWN KA_CPU NEW_CPU; do
    declare -n values=$figure
    format=%.2f; case $figure in KA | NEW) format=%.0f ;; KA_CPU | NEW_CPU) format=%.1f ;; esac
    [ "$name" = direct ] && [[ $figure == *_CPU ]] && { values[$name]=""; unset -n values; continue; }
    values[$name]=$(printf "$format" "$(median "${values[$name]}")")
    unset -n values
  done
  if [ "$name" = direct ]; then MEM[$name]=""; else echo "memory: $name..." >&2; idle_phase "$name" "$(cut -d' ' -f1 <<<"${PORTS[$name]}")"; fi
done
GC="- - - - -"
if [[ " $TARGETS " == *" ours "* ]]; then
  echo "GC counters: ours..." >&2
  GC=$(gc_counters "$WORK/ours-admin.sock" || echo "- - - - -")
  OURS_BULK_RSS=$(mib "$(total_rss_kib ours-bulk)")
fi
for name in $TARGETS; do
  [ "$name" = direct ] && continue
  echo "cold start: $name..." >&2
  cold_start "$name"
done

cell() { # cell VALUE HAPROXY_VALUE -> "value (ratio)"
  awk -v v="$1" -v h="$2" 'BEGIN { if (v == "") { print "-"; exit } if (h + 0 == 0) { print v; exit } printf "%s (%.2fx)", v, v / h }'
}

{
  echo "| target | keep-alive req/s | p50 ms | p99 ms | CPU µs per request | new connections/s | CPU µs per connection | Gbit/s up | Gbit/s down | KiB per idle connection |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for name in $TARGETS; do
    label=$name; [ "$name" = ours ] && label="LoadBalancer.Reactive"; [ "$name" = direct ] && label="direct to a backend (the limit)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
      "$(cell "${KA[$name]}" "${KA[haproxy]:-}")" \
      "$(cell "${P50[$name]}" "${P50[haproxy]:-}")" \
      "$(cell "${P99[$name]}" "${P99[haproxy]:-}")" \
      "$(cell "${KA_CPU[$name]}" "${KA_CPU[haproxy]:-}")" \
      "$(cell "${NEW[$name]}" "${NEW[haproxy]:-}")" \
      "$(cell "${NEW_CPU[$name]}" "${NEW_CPU[haproxy]:-}")" \
      "$(cell "${UP[$name]}" "${UP[haproxy]:-}")" \
      "$(cell "${DOWN[$name]}" "${DOWN[haproxy]:-}")" \
      "$(cell "${MEM[$name]}" "${MEM[haproxy]:-}")"
  done
  echo
  echo "| target | start to first relayed request, ms | p99 over the first 10 s from start, ms | warmed p99, ms | cold / warmed p99 | MiB resident after the load phases | MiB with $IDLE idle connections held | MiB 3 s after they close |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  for name in $TARGETS; do
    [ "$name" = direct ] && continue
    label=$name; [ "$name" = ours ] && label="LoadBalancer.Reactive"; [ "$name" = nginx ] && label="nginx (master + worker)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
      "$(cell "${START_MS[$name]}" "${START_MS[haproxy]:-}")" \
      "$(cell "${COLD_P99[$name]}" "${COLD_P99[haproxy]:-}")" \
      "$(cell "${P99[$name]}" "${P99[haproxy]:-}")" \
      "$(awk -v c="${COLD_P99[$name]}" -v w="${P99[$name]}" 'BEGIN { if (w + 0 == 0) print "-"; else printf "%.2fx\n", c / w }')" \
      "$(cell "${RSS_LOAD[$name]}" "${RSS_LOAD[haproxy]:-}")" \
      "$(cell "${RSS_HELD[$name]}" "${RSS_HELD[haproxy]:-}")" \
      "$(cell "${RSS_CLOSED[$name]}" "${RSS_CLOSED[haproxy]:-}")"
  done
  if [[ " $TARGETS " == *" ours "* ]]; then
    read -r heap total gen0 gen1 gen2 <<<"$GC"
    echo
    echo "LoadBalancer.Reactive at the end (its show info): GC heap after the last collection $heap MiB; $total collections since it started (gen0 $gen0, gen1 $gen1, gen2 $gen2). Its bulk listener is a second process (not in the memory columns above), $OURS_BULK_RSS MiB resident at the end."
  fi
} | tee "$WORK/table.md"
echo "(ratios are to HAProxy; logs and configs in $WORK)" >&2
