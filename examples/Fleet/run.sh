#!/usr/bin/env bash
# A fleet of three balancers sharing their backends through etcd, on this machine:
#   starts etcd (installing etcd-server with apt-get if it is missing), three demo backends and three Quickstart
#   instances joined to the fleet (--etcd, --etcd-prefix, --name); stores the backends with etcdctl; drains one
#   backend with a single etcdctl put and shows that none of the three instances sends it requests any more;
#   lists the live instances; then stops everything it started, by PID.
# Ports (override with the variables): etcd 22379/22380, backends 9101-9103, balancers 8101-8103.
set -euo pipefail
cd "$(dirname "$0")/../.."

ETCD_PORT=${ETCD_PORT:-22379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-22380}
BACKEND_PORTS=(${BACKEND_PORTS:-9101 9102 9103})
BALANCER_PORTS=(${BALANCER_PORTS:-8101 8102 8103})
PREFIX=${PREFIX:-/fleet-demo}
ETCD_URL="http://127.0.0.1:$ETCD_PORT"
export ETCDCTL_API=3

pids=()
data=$(mktemp -d)
stop() {
  # Only what this script started, by the PIDs it recorded.
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$data"
}
trap stop EXIT

step() { printf '\n== %s\n' "$*"; }
ctl() { etcdctl --endpoints="$ETCD_URL" "$@"; }
wait_for() { # wait_for WHAT COMMAND...: retries for up to 15 s
  local what=$1; shift
  for _ in $(seq 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $what" >&2
  return 1
}

if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  step "installing etcd (apt-get install etcd-server etcd-client)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
fi

step "building the Quickstart"
dotnet build examples/Quickstart -c Release -v quiet -nologo >/dev/null
quickstart=(dotnet examples/Quickstart/bin/Release/net10.0/Quickstart.dll)
if ! "${quickstart[@]}" --help 2>&1 | grep -q -- '--etcd'; then
  echo "This Quickstart has no --etcd flag yet: the fleet flags (--etcd, --etcd-prefix, --name) are not wired in." >&2
  exit 1
fi

step "starting etcd on $ETCD_URL (data in $data)"
etcd --name fleet-demo --data-dir "$data/etcd" \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "fleet-demo=http://127.0.0.1:$ETCD_PEER_PORT" --log-level error >"$data/etcd.log" 2>&1 &
pids+=($!)
wait_for "etcd" ctl endpoint health

step "starting three demo backends and storing them under $PREFIX/backends/"
for i in 0 1 2; do
  port=${BACKEND_PORTS[$i]}
  python3 examples/Fleet/backend.py "backend $((i + 1))" "$port" &
  pids+=($!)
  ctl put "$PREFIX/backends/127.0.0.1:$port" "{\"address\":\"127.0.0.1:$port\",\"weight\":1,\"state\":\"active\"}" >/dev/null
done
for port in "${BACKEND_PORTS[@]}"; do wait_for "backend $port" curl -sf "http://127.0.0.1:$port/"; done
ctl get --prefix "$PREFIX/backends/"

step "starting three balancer instances joined to the fleet"
for i in 0 1 2; do
  "${quickstart[@]}" --listen "127.0.0.1:${BALANCER_PORTS[$i]}" --backend "127.0.0.1:${BACKEND_PORTS[0]}" \
    --strategy maglev --no-health-checks --quiet \
    --etcd "$ETCD_URL" --etcd-prefix "$PREFIX" --name "lb-$((i + 1))" >"$data/lb-$((i + 1)).log" 2>&1 &
  pids+=($!)
done
for port in "${BALANCER_PORTS[@]}"; do wait_for "balancer $port" curl -sf "http://127.0.0.1:$port/"; done

# Which backend answers through each instance, for clients from 18 source addresses (maglev: the same on all three).
answers() {
  for port in "${BALANCER_PORTS[@]}"; do
    printf 'lb on %s:' "$port"
    for host in $(seq 10 27); do
      printf ' %s' "$(curl -s --interface "127.0.0.$host" "http://127.0.0.1:$port/" | cut -d' ' -f2)"
    done
    echo
  done
}
every_line_has() { # every_line_has TEXT: every instance's line shows TEXT
  [ "$(answers | grep -c -- "$1")" -eq 3 ]
}
lacks() { # lacks TEXT: no instance's line shows TEXT
  ! answers | grep -q -- "$1"
}

# The instances started with one --backend; each replaces it with the three read from etcd.
wait_for "every instance to follow etcd" every_line_has " 3"
step "every instance spreads clients over the three backends, and they agree on each client's backend"
echo "(the number of the backend that answered each of 18 clients, 127.0.0.10 to 127.0.0.27)"
answers

step "draining backend 2 once, for the whole fleet: etcdctl put ... state drain"
ctl put "$PREFIX/backends/127.0.0.1:${BACKEND_PORTS[1]}" "{\"address\":\"127.0.0.1:${BACKEND_PORTS[1]}\",\"weight\":1,\"state\":\"drain\"}"
wait_for "the drain to reach every instance" lacks " 2"
answers
echo "the drain reached all three instances: none sends new requests to backend 2"

step "live instances (keys under a lease; a crashed instance disappears when its lease expires)"
ctl get --prefix "$PREFIX/instances/" --print-value-only

step "stopping everything this script started"
