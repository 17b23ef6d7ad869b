#!/usr/bin/env bash
# Times the strategy lab on the workload its issue sets: 1,000,000 connections over 100 backends,
# simulated once per strategy, in Release. Each strategy's run must take under 10 s of wall time;
# the lab prints every run's wall time in its last table row. Extra arguments go to the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release examples/StrategyLab -nologo -v quiet
exec dotnet run -c Release --no-build --project examples/StrategyLab -- \
  --connections 1000000 --backends 100 --rate 20000 --mean-duration 250ms "$@"
