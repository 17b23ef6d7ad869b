# Sourced by the benchmark scripts: a work directory, processes started in the background and stopped by
# PID when the script exits, and waiting for a port. Set WORK_PREFIX before sourcing.
WORK=$(mktemp -d "/tmp/${WORK_PREFIX:-lb-bench}.XXXXXX")
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }

start() { # start NAME COMMAND...: runs it in the background, remembers its PID in $WORK/NAME.pid
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  echo $! >"$WORK/$name.pid"
}

wait_port() { # wait_port PORT: until something listens on 127.0.0.1:PORT, for up to 10 s
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1; see $WORK" >&2
  return 1
}
