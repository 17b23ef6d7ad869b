#!/usr/bin/env bash
# Packs lbr, the Quickstart as a .NET tool, into FEED (default ./feed): a Native AOT build for linux-x64 (starts in
# milliseconds, about a third of the JIT's memory: benchmarks/RESULTS.md) and a framework-dependent build for every
# other platform, behind the one package id that `dotnet tool install` resolves to the right one (.NET SDK 10's
# RID-specific tools). Arguments after FEED go to each `dotnet pack` (-p:Version=... for one).
#
#   bash examples/Quickstart/pack-tool.sh ./feed
#   dotnet tool install --global --add-source ./feed LoadBalancer.Reactive.Quickstart
#
# The AOT build needs clang (apt-get install clang) and runs on linux-x64 with glibc; on other platforms the script
# packs the framework-dependent build alone.
set -euo pipefail
FEED=./feed
if [ $# -gt 0 ] && [[ $1 != -* ]]; then FEED=$1; shift; fi
mkdir -p "$FEED"
FEED=$(cd "$FEED" && pwd)
PROJECT="$(dirname "$0")"
pack() { dotnet pack "$PROJECT" -c Release -o "$FEED" -nologo "$@"; }

native=0
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  command -v clang >/dev/null || { echo "the linux-x64 build is Native AOT and needs clang: apt-get install clang" >&2; exit 1; }
  native=1
fi

pack -r any "$@"                            # any platform with the .NET runtime: the JIT build
if [ $native = 1 ]; then
  pack -r linux-x64 "$@"                    # linux-x64: Native AOT (the project's setting for that runtime)
else
  echo "not on linux-x64: packed the framework-dependent build only" >&2
fi
pack "$@"                                   # last, once its builds are there: the package `dotnet tool install` asks for
echo "packed into $FEED; install with: dotnet tool install --global --add-source $FEED LoadBalancer.Reactive.Quickstart"
