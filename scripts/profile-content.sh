#!/bin/bash
# Profiles the content bench's download (client and holder in one process) with dotnet-trace (sampled thread time,
# Speedscope output) and prints where its busy thread time goes. Needs a Release build of tests/KontinuumP2P.Benchmarks
# and ~/.dotnet/tools/dotnet-trace.
# usage: scripts/profile-content.sh OUTDIR [DOWNLOADS] [SECONDS]
set -euo pipefail
OUT=${1:?usage: profile-content.sh OUTDIR [DOWNLOADS] [SECONDS]}
DOWNLOADS=${2:-30}
SECONDS_=${3:-6}
mkdir -p "$OUT"
TRACE=~/.dotnet/tools/dotnet-trace
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
dotnet run -c Release --no-build --project tests/KontinuumP2P.Benchmarks -- content --profile-downloads "$DOWNLOADS" > "$OUT/bench.out" 2>&1 &
RUNNER=$!
wait_for() { for _ in $(seq 1 3000); do grep -q "$1" "$OUT/bench.out" && return 0; sleep 0.2; done; return 1; }
wait_for "content: profiling [0-9]* downloads"
PID=$(pgrep -P $RUNNER -f KontinuumP2P.Benchmarks | head -1)
"$TRACE" collect -p "$PID" --profile dotnet-sampled-thread-time --format Speedscope --duration "00:00:00:$(printf %02d "$SECONDS_")" \
  -o "$OUT/download.nettrace" > "$OUT/trace.log" 2>&1
grep -q "content: profiling done" "$OUT/bench.out" && echo "warning: the downloads ended before the trace did; raise DOWNLOADS" >&2
wait $RUNNER
cat "$OUT/bench.out"
python3 scripts/speedscope-content.py "$OUT/download.speedscope.json"
