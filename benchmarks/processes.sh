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

start_http_backends() { # start_http_backends PORT PORT PORT: one nginx on core 1 answering "hello" on each port
  local listens=""
  for port in "$@"; do listens+="listen 127.0.0.1:$port; "; done
  cat >"$WORK/backends.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/backends.pid;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_header_timeout 300s;
  server {
    $listens
    location / { return 200 "hello\n"; }
  }
}
CONF
  start backends taskset -c 1 nginx -p "$WORK" -c "$WORK/backends.conf" -e "$WORK/backends-error.log"
}

build_refs() { # build_refs BEFORE_REF AFTER_REF: each commit's Quickstart (Release) in a worktree at $WORK/before and $WORK/after
  local build ref
  for build in before after; do
    ref=$1; shift
    echo "building $build ($ref, Release)..." >&2
    git -C "$ROOT" worktree add -q --detach "$WORK/$build" "$ref"
    dotnet build -c Release "$WORK/$build/examples/Quickstart" -nologo -v quiet >/dev/null
  done
  trap 'cleanup; for build in before after; do git -C "$ROOT" worktree remove --force "$WORK/$build" 2>/dev/null || true; done' EXIT
}
