"""Per-layer share of busy thread time in a dotnet-trace Speedscope file (dotnet-sampled-thread-time profile).

Waiting threads (epoll loop, idle pool workers, monitor and handle waits, the finalizer's array-pool trim) are left
out; each remaining sample goes to the first layer found walking from the leaf towards the root.
usage: speedscope-layers.py FILE.speedscope.json [FRAME-TO-DROP]
"""
import collections
import json
import sys

WAIT = ('Monitor.Wait', 'WaitHandle', 'epoll', 'WaitOne', 'LowLevelLifoSemaphore', 'SemaphoreSlim.Wait', 'Thread.Sleep',
        'WaitForSignal', 'WaitForSocketEvents', 'LowLevelMonitor', 'GateThread', 'Thread.Join', 'ManualResetEventSlim.Wait',
        'SpinThenBlockingWait', 'TimerThread', 'PollGC', 'InternalWaitCore', 'WaitAsync(', 'SocketAsyncEngine.EventLoop',
        'WorkerThreadStart()')
SKIP = ('Gen2GcCallback', 'RemoveDirectoryRecursive', 'StackTraceSymbols')
LAYERS = [('GC/alloc', ('GC.', 'AllocateUninitialized', 'GarbageCollect', 'gc_heap')),
          ('SQLite', ('Sqlite', 'SQLitePCL', 'sqlite3')),
          ('protobuf', ('Google.Protobuf', 'Protos.')),
          ('Noise crypto', ('ChaChaPoly', 'CipherState')),
          ('Noise framing', ('Noise',)),
          ('Yamux', ('Yamux',)),
          ('TCP/socket', ('System.Net.Sockets', 'TcpConnection')),
          ('pipes/copies', ('System.IO.Pipelines', 'Memmove')),
          ('mailbox framing', ('MailboxFrames', 'PullFrame')),
          ('mailbox server', ('MailboxServer',)),
          ('mailbox client', ('MailboxSession', 'GroupClient')),
          ('mailbox store', ('MailboxStore',)),
          ('blake3/hash', ('Blake3',)),
          ('bench', ('Benchmarks',)),
          ('threadpool/async', ('ThreadPool', 'AsyncTaskMethodBuilder', 'ExecutionContext', 'Channels', 'Task'))]


def main():
    data = json.load(open(sys.argv[1]))
    drop = sys.argv[2] if len(sys.argv) > 2 else None
    frames = [f['name'] for f in data['shared']['frames']]
    shares = collections.Counter()
    totals = {'kept': 0.0, 'dropped': 0.0}

    def sample(stack, weight):
        names = [frames[i] for i in stack]
        if names and names[-1] in ('CPU_TIME', 'UNMANAGED_CODE_TIME'):
            names = names[:-1]
        managed = [n for n in names if n != '?!?']
        if not managed or any(any(w in n for w in WAIT) for n in managed[-3:]):
            return
        if any(any(s in n for s in SKIP) for n in names):
            return
        if drop and any(drop in n for n in names):
            totals['dropped'] += weight
            return
        totals['kept'] += weight
        for name in reversed(names):
            for layer, keys in LAYERS:
                if any(k in name for k in keys):
                    shares[layer] += weight
                    return
        shares['other'] += weight

    for profile in data['profiles']:
        stack, last = [], None
        for event in profile['events']:
            if last is not None and stack:
                sample(list(stack), event['at'] - last)
            last = event['at']
            if event['type'] == 'O':
                stack.append(event['frame'])
            else:
                stack.pop()
    if drop:
        print(f"dropped under {drop}: {100 * totals['dropped'] / (totals['dropped'] + totals['kept']):.1f} %")
    for layer, weight in shares.most_common():
        print(f"{100 * weight / totals['kept']:5.1f} % {layer}")


if __name__ == '__main__':
    main()
