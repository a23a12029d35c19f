#!/bin/bash
# Runs a perf command over each gated phase of the content bench: RAW raw streams, then DOWNLOADS downloads, each
# exactly N x 100 MiB (`content --profile-raw/--profile-downloads --profile-gate`: a phase starts when a line arrives on
# the bench's stdin, so perf is attached before its first byte). Writes OUT.raw.perf and OUT.download.perf.
# Needs a Release build of tests/KontinuumP2P.Benchmarks. PERF_ALL=1 records system-wide (for perf sched timehist).
# usage: scripts/perf-content-phases.sh OUT RAW DOWNLOADS perf stat -e task-clock,context-switches,...
#        scripts/perf-content-phases.sh OUT RAW DOWNLOADS perf record -F 999 -g   (then scripts/perf-content-buckets.py)
set -uo pipefail
OUT=${1:?usage: perf-content-phases.sh OUT RAW DOWNLOADS PERF-COMMAND...}
RAW=${2:?}
DOWNLOADS=${3:?}
shift 3
HERE=$(cd "$(dirname "$0")/.." && pwd)
rm -f "$OUT.fifo"
mkfifo "$OUT.fifo"
dotnet "$HERE/tests/KontinuumP2P.Benchmarks/bin/Release/net10.0/KontinuumP2P.Benchmarks.dll" content --rounds 1 \
  --profile-raw "$RAW" --profile-downloads "$DOWNLOADS" --profile-gate < "$OUT.fifo" > "$OUT.bench" 2>&1 &
PID=$!
exec 3>"$OUT.fifo"
wait_for() { for _ in $(seq 1 6000); do grep -q "$1" "$OUT.bench" && return 0; sleep 0.05; done; return 1; }
for phase in raw download; do
  if [ $phase = raw ]; then start="profiling [0-9]* raw streams"; stop="profiling raw done"
  else start="profiling [0-9]* downloads"; stop="profiling done"; fi
  wait_for "$start" || { echo "the bench did not reach the $phase phase" >&2; break; }
  if [ -n "${PERF_ALL:-}" ]; then TARGET=(-a); else TARGET=(-p "$PID"); fi
  "$@" "${TARGET[@]}" -o "$OUT.$phase.perf" &
  PERF=$!
  sleep 1 # perf's own start-up, before the gate opens
  echo go >&3
  wait_for "$stop"
  kill -INT $PERF
  wait $PERF
done
exec 3>&-
wait $PID
rm -f "$OUT.fifo"
