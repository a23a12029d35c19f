"""Per-end breakdown of stream-throughput's busy thread time from a dotnet-trace Speedscope file.

A sample belongs to the sending end when its stack holds the bench's writer, the inline write, the Yamux write loop or
the TCP send pump, to the receiving end when it holds the TCP receive pump, the Yamux read loop or the sink; within an
end it goes to the first category found walking from the leaf. Waiting threads are left out (as speedscope-layers.py).
usage: speedscope-stream.py FILE.speedscope.json [CPU-NS-PER-BYTE]
"""
import collections
import json
import sys

WAIT = ('Monitor.Wait', 'WaitHandle', 'epoll', 'WaitOne', 'LowLevelLifoSemaphore', 'SemaphoreSlim.Wait', 'Thread.Sleep',
        'WaitForSignal', 'WaitForSocketEvents', 'LowLevelMonitor', 'GateThread', 'Thread.Join', 'ManualResetEventSlim.Wait',
        'SpinThenBlockingWait', 'TimerThread', 'PollGC', 'InternalWaitCore', 'WaitAsync(', 'SocketAsyncEngine.EventLoop',
        'WorkerThreadStart()')
EXCLUDE = ('AeadBench',)
SEND = ('TransferAsync', 'WriteInlineAsync', 'WriteLoopAsync', 'SendLoopAsync', 'TcpSendWriter')
RECEIVE = ('ReceiveLoopAsync', 'ReadLoopAsync', 'SinkAsync', 'NoiseDecryptingReader')
CATEGORIES = [('AEAD (ChaCha20-Poly1305)', ('ChaCha20Poly1305', 'ChaChaPoly', 'CipherState', 'Interop+Crypto')),
              ('socket syscalls (kernel copy)', ('Interop+Sys.Send', 'Interop+Sys.Receive', 'SocketPal', 'System.Net.Sockets')),
              ('copies (memmove)', ('Memmove', 'Buffer.', 'CopyTo')),
              ('lock contention', ('Lock.', 'Monitor', 'SpinWait')),
              ('Yamux bookkeeping', ('Yamux',)),
              ('Noise framing', ('Noise',)),
              ('pipes', ('System.IO.Pipelines',)),
              ('GC/alloc', ('GC.', 'gc_heap', 'Allocate')),
              ('threadpool/async', ('ThreadPool', 'AsyncTaskMethodBuilder', 'ExecutionContext', 'Task', 'ValueTask'))]


def main():
    data = json.load(open(sys.argv[1]))
    ns_per_byte = float(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
    frames = [f['name'] for f in data['shared']['frames']]
    shares = collections.Counter()
    total = [0.0]

    def sample(names, weight):
        if names and names[-1] in ('CPU_TIME', 'UNMANAGED_CODE_TIME'):
            names = names[:-1]
        managed = [n for n in names if n != '?!?']
        if not managed or any(any(w in n for w in WAIT) for n in managed[-3:]):
            return
        # The bench's own AEAD measurements between repetitions are not part of the transfer's CPU.
        if any(k in n for n in managed for k in EXCLUDE):
            return
        total[0] += weight
        end = 'other'
        for name in reversed(names):
            if any(k in name for k in SEND):
                end = 'send'
                break
            if any(k in name for k in RECEIVE):
                end = 'receive'
                break
        for name in reversed(names):
            for category, keys in CATEGORIES:
                if any(k in name for k in keys):
                    shares[(end, category)] += weight
                    return
        shares[(end, 'other')] += weight

    for profile in data['profiles']:
        stack, last = [], None
        for event in profile['events']:
            if last is not None and stack:
                sample([frames[i] for i in stack], event['at'] - last)
            last = event['at']
            if event['type'] == 'O':
                stack.append(event['frame'])
            else:
                stack.pop()
    for end in ('send', 'receive', 'other'):
        part = sum(w for (e, _), w in shares.items() if e == end)
        if part == 0:
            continue
        scale = f" = {ns_per_byte * part / total[0]:.2f} ns/B" if ns_per_byte else ''
        print(f"{end}: {100 * part / total[0]:5.1f} % of busy thread time{scale}")
        for (e, category), weight in sorted(shares.items(), key=lambda kv: -kv[1]):
            if e != end:
                continue
            ns = f" {ns_per_byte * weight / total[0]:.3f} ns/B" if ns_per_byte else ''
            print(f"  {100 * weight / total[0]:5.1f} %{ns} {category}")


if __name__ == '__main__':
    main()
