#!/usr/bin/env bash
# Packs lbr, the Quickstart as a .NET tool, into FEED (default ./feed): a Native AOT build for linux-x64 (starts in
# milliseconds, about a third of the JIT's memory: benchmarks/RESULTS.md) and a framework-dependent build for every
# other platform, behind the one package id that `dotnet tool install` resolves to the right one (.NET SDK 10's
# RID-specific tools). Extra arguments go to each `dotnet pack` (-p:Version=... for one).
#
#   bash examples/Quickstart/pack-tool.sh ./feed
#   dotnet tool install --global --add-source ./feed LoadBalancer.Reactive.Quickstart
#
# The AOT build needs clang (apt-get install clang) and runs on linux-x64; elsewhere the script packs the other two.
set -euo pipefail
FEED=$(realpath -m "${1:-./feed}")
shift || true
PROJECT="$(dirname "$0")"
pack() { dotnet pack "$PROJECT" -c Release -o "$FEED" -nologo "$@"; }

pack "$@"                                   # the package `dotnet tool install` asks for: which build suits which platform
pack -r any -p:PublishAot=false "$@"        # any platform with the .NET runtime: the JIT build
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  command -v clang >/dev/null || { echo "the linux-x64 build is Native AOT and needs clang: apt-get install clang" >&2; exit 1; }
  pack -r linux-x64 "$@"                    # linux-x64: Native AOT
else
  echo "not on linux-x64: packed the framework-dependent build only" >&2
fi
echo "packed into $FEED; install with: dotnet tool install --global --add-source $FEED LoadBalancer.Reactive.Quickstart"
