#!/usr/bin/env bash
# Times the strategy lab on the workloads its issues set: 1,000,000 connections over 100 backends, then over
# 10,000 backends (a large pool: each fold step and each pick must stay O(log n)), simulated once per strategy,
# in Release. Each strategy's run must take under 10 s of wall time; the lab prints every run's wall time in its
# last table row, and on stderr its wall time, CPU time and bytes allocated per connection (on a shared machine
# the CPU time is the figure to compare). Extra arguments go to the lab, for both runs.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release examples/StrategyLab -nologo -v quiet
for backends in 100 10000; do
  echo "== 1,000,000 connections over $backends backends" >&2
  dotnet run -c Release --no-build --project examples/StrategyLab -- \
    --connections 1000000 --backends "$backends" --rate 20000 --mean-duration 250ms "$@"
done
