#!/bin/bash
# Profiles the mailbox bench's push and pull phases with dotnet-trace (sampled thread time, Speedscope output) and
# prints a per-layer summary of each. Needs a Release build of tests/KontinuumP2P.Benchmarks and ~/.dotnet/tools/dotnet-trace.
# usage: scripts/profile-mailbox.sh OUTDIR
set -euo pipefail
OUT=${1:?usage: profile-mailbox.sh OUTDIR}
mkdir -p "$OUT"
TRACE=~/.dotnet/tools/dotnet-trace
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
# The node's gen0 budget set here, so the bench does not re-run itself and the traced process is the server's
# (the clients push from a child process of it).
DOTNET_GCgen0size=0x4000000 dotnet run -c Release --no-build --project tests/KontinuumP2P.Benchmarks -- mailbox --pushes 100000 --fill 20000 --pull-rounds 15 > "$OUT/bench.out" 2>&1 &
RUNNER=$!
wait_for() { for _ in $(seq 1 3000); do grep -q "$1" "$OUT/bench.out" && return 0; sleep 0.2; done; return 1; }
wait_for "0k-sync path"
PID=$(pgrep -P $RUNNER -f KontinuumP2P.Benchmarks | head -1)
# Push phase: 8 s into the 100,000 pushes; pull phase: 8 s from the first pipelined round.
"$TRACE" collect -p "$PID" --profile dotnet-sampled-thread-time --format Speedscope --duration 00:00:00:08 -o "$OUT/push.nettrace" > "$OUT/trace-push.log" 2>&1
wait_for "pipelined round"
"$TRACE" collect -p "$PID" --profile dotnet-sampled-thread-time --format Speedscope --duration 00:00:00:08 -o "$OUT/pull.nettrace" > "$OUT/trace-pull.log" 2>&1
wait $RUNNER
cat "$OUT/bench.out"
echo "--- push (without the writer's COMMIT, which is the fsync wait)"
python3 scripts/speedscope-layers.py "$OUT/push.speedscope.json" CommitBatch
echo "--- pull"
python3 scripts/speedscope-layers.py "$OUT/pull.speedscope.json"
