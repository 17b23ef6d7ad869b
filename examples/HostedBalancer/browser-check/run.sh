#!/usr/bin/env bash
# The stats page, checked in a real browser: installs Debian's chromium if it is missing, builds the
# HostedBalancer example, and runs check.mjs (headless Chromium over the live page while traffic flows).
# Usage: examples/HostedBalancer/browser-check/run.sh [screenshot.png]   (default: artifacts/stats-page.png)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
screenshot=${1:-$root/artifacts/stats-page.png}

if ! command -v chromium >/dev/null; then
  echo "installing chromium (Debian package)..."
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --silent
fi

dotnet build "$root/examples/HostedBalancer" -c Debug -nologo -v quiet
node check.mjs "$root/examples/HostedBalancer/bin/Debug/net10.0/HostedBalancer.dll" "$screenshot"
