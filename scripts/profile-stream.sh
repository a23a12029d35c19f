#!/bin/bash
# Profiles stream-throughput's measured repetitions (both ends in one process) with dotnet-trace (sampled thread time,
# Speedscope output) and prints per end where the busy thread time goes, in ns per byte from the bench's own CPU figure.
# Needs a Release build of tests/KontinuumP2P.Benchmarks (or BENCH_DLL=path to another build) and ~/.dotnet/tools/dotnet-trace.
# usage: scripts/profile-stream.sh OUTDIR [SECONDS] [REPEATS]
# (On-CPU time per end with perf, which the load does not inflate: scripts/profile-stream-perf.sh.)
set -euo pipefail
OUT=${1:?usage: profile-stream.sh OUTDIR [SECONDS] [REPEATS]}
SECONDS_=${2:-8}
REPEATS=${3:-7}
mkdir -p "$OUT"
TRACE=~/.dotnet/tools/dotnet-trace
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
dotnet "${BENCH_DLL:-tests/KontinuumP2P.Benchmarks/bin/Release/net10.0/KontinuumP2P.Benchmarks.dll}" stream-throughput --repeats "$REPEATS" \
  > "$OUT/bench.out" 2>&1 &
PID=$!
for _ in $(seq 1 3000); do grep -q "measured repetitions" "$OUT/bench.out" && break; sleep 0.1; done
"$TRACE" collect -p "$PID" --profile dotnet-sampled-thread-time --format Speedscope --duration "00:00:00:$(printf %02d "$SECONDS_")" \
  -o "$OUT/stream.nettrace" > "$OUT/trace.log" 2>&1
wait $PID
grep -v '^{' "$OUT/bench.out"
NS=$(grep -o 'CPU, both ends: median [0-9.]*' "$OUT/bench.out" | grep -o '[0-9.]*$')
python3 scripts/speedscope-stream.py "$OUT/stream.speedscope.json" "$NS"
