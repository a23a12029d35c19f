#!/bin/bash
# Profiles each end of `stream-throughput --split` with perf (on-CPU samples, which the load does not inflate the way
# sampled thread time does) inside one measured 4 GiB transfer, counts the system calls per MiB of each end, and prints
# per end where the CPU goes (scripts/perf-stream-split.py), in ns/B from the end's own CPU figure of that run.
# Needs perf, root (or perf_event_paranoid <= 1) and a Release build of tests/KontinuumP2P.Benchmarks (BENCH_DIR=another
# build's output directory). MiB per window come from the loopback device's byte counter, so other loopback traffic on
# the machine counts too (small next to ~1 GB/s).
# usage: scripts/profile-stream-perf.sh OUTDIR [SECONDS]
set -euo pipefail
OUT=${1:?usage: profile-stream-perf.sh OUTDIR [SECONDS]}
SECS=${2:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_DIR:-$HERE/tests/KontinuumP2P.Benchmarks/bin/Release/net10.0}
mkdir -p "$OUT"
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
"$BIN/KontinuumP2P.Benchmarks" stream-throughput --split --repeats 3 --bytes 4294967296 > "$OUT/bench.out" 2>&1 &
PID=$!
# Inside the second repetition: past the first one's JIT, and past the half second of AEAD measurement before it.
for _ in $(seq 1 3000); do grep -q "#1:" "$OUT/bench.out" && break; sleep 0.1; done
CHILD=$(pgrep -P "$PID" -f sink-child)
sleep 1
EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_sched_yield
BYTES0=$(cat /sys/class/net/lo/statistics/tx_bytes)
perf stat -x, -e "$EVENTS" -p "$PID" -o "$OUT/syscalls-send.txt" -- sleep "$SECS" &
STAT1=$!
perf stat -x, -e "$EVENTS" -p "$CHILD" -o "$OUT/syscalls-receive.txt" -- sleep "$SECS" &
STAT2=$!
perf record -F 1999 -g -p "$PID" -o "$OUT/send.data" -- sleep "$SECS" > "$OUT/perf-send.log" 2>&1 &
REC1=$!
perf record -F 1999 -g -p "$CHILD" -o "$OUT/receive.data" -- sleep "$SECS" > "$OUT/perf-receive.log" 2>&1 &
REC2=$!
wait "$STAT1" "$STAT2"
BYTES1=$(cat /sys/class/net/lo/statistics/tx_bytes)
wait "$REC1" "$REC2"
wait "$PID"
grep -v '^{' "$OUT/bench.out"
MIB=$(( (BYTES1 - BYTES0) >> 20 ))
echo "window: $SECS s, $MIB MiB over loopback"
SEND_NS=$(grep -o 'sender median [0-9.]*' "$OUT/bench.out" | grep -o '[0-9.]*$')
RECEIVE_NS=$(grep -o 'receiver median [0-9.]*' "$OUT/bench.out" | grep -o '[0-9.]*$')
for END in send receive; do
  echo "== $END: system calls per MiB"
  awk -F, -v m="$MIB" '$3 ~ /sys_enter/ { printf "  %-36s %7.2f\n", $3, $1 / m }' "$OUT/syscalls-$END.txt"
  perf script -i "$OUT/$END.data" 2>/dev/null > "$OUT/$END.txt"
  NS=$SEND_NS; [ "$END" = receive ] && NS=$RECEIVE_NS
  echo "== $END: CPU by layer (ns/B of this end's median $NS)"
  python3 "$HERE/scripts/perf-stream-split.py" "$OUT/$END.txt" "$NS" 12
done
