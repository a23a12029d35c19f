"""Where a content download's busy thread time goes, from a dotnet-trace Speedscope file (sampled thread time).

Waiting threads are left out as in speedscope-layers.py. Each remaining sample is put in one bucket, walking from the
leaf towards the root: BLAKE3 (split into the holder's re-hash and the client's check), the chunk open, GC, file I/O
(the holder's chunk read, the client's write), the stream path (Noise, Yamux, TCP, pipes: what the raw stream pays
too), copies of chunk bytes made by content code, content framing/protobuf, and the rest.
usage: speedscope-content.py FILE.speedscope.json [CPU-MS-PER-MIB]
With the download's CPU per MiB (from the bench's output) the shares are also printed as ms per MiB.
"""
import collections
import importlib.util
import json
import os
import sys

_spec = importlib.util.spec_from_file_location('layers', os.path.join(os.path.dirname(__file__), 'speedscope-layers.py'))
_layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_layers)
WAIT, SKIP = _layers.WAIT, _layers.SKIP

GC = ('GC.', 'AllocateUninitialized', 'GarbageCollect', 'gc_heap', 'AllocateNewArray')
COPY = ('Memmove', 'Buffer.BlockCopy', 'SpanHelpers.Memmove')
FILE = ('RandomAccess', 'SafeFileHandle', 'FileStream', 'File.Open', 'File.Move', 'FileSystem.', 'Interop+Sys.PRead', 'Interop+Sys.PWrite', 'Interop+Sys.FSync')
STREAM = ('Yamux', 'Noise', 'ChaChaPoly', 'CipherState', 'TcpConnection', 'System.Net.Sockets', 'System.IO.Pipelines')
CONTENT = ('KontinuumP2P.Mailbox', 'Google.Protobuf')


def bucket(names):
    """names: leaf first."""
    copied = False
    # The background flush's fsync (a thread blocked in the syscall: disk wait, little CPU).
    if any('WritebackPacer' in n for n in names):
        return 'file: client fsync/rename'
    # A pool task whose leaf is native code the profiler could not unwind: the keystream XOR in libsodium (the
    # check-and-write delegate is inlined into the task, BLAKE3 shows its own frames).
    if names and 'Task.InnerInvoke' in names[0]:
        return 'open (keystream; first chunk AEAD)'
    for i, name in enumerate(names):
        rest = names[i:]
        if 'Blake3' in name:
            return 'hash: holder re-hash' if any('ContentStore' in n for n in rest) else 'hash: client check'
        if 'ContentCipher' in name or 'XChaCha20Keystream' in name:
            return 'open (keystream; first chunk AEAD)'
        if any(g in name for g in GC):
            return 'GC/alloc'
        if any(c in name for c in COPY):
            copied = True
            continue
        if any(f in name for f in FILE):
            if any('ContentStore' in n for n in rest):
                return 'file: holder read'
            # fsync and rename mostly wait on the disk (thread time, little CPU); pwrite copies into the page cache.
            return 'file: client fsync/rename' if any(f in n for n in names for f in ('FSync', 'FlushToDisk', 'Rename')) else 'file: client write'
        if any(s in name for s in STREAM):
            return 'stream (Noise, Yamux, TCP, pipes)'
        if any(c in name for c in CONTENT):
            return 'copies of chunk bytes' if copied else 'content framing/protobuf/state'
    return 'copies (other)' if copied else 'other'


def main():
    data = json.load(open(sys.argv[1]))
    cpu = float(sys.argv[2]) if len(sys.argv) > 2 else None
    frames = [f['name'] for f in data['shared']['frames']]
    shares = collections.Counter()
    others = collections.Counter()

    def sample(stack, weight):
        names = [frames[i] for i in stack]
        if names and names[-1] in ('CPU_TIME', 'UNMANAGED_CODE_TIME'):
            names = names[:-1]
        managed = [n for n in names if n != '?!?']
        if not managed or any(any(w in n for w in WAIT) for n in managed[-3:]):
            return
        if any(any(s in n for s in SKIP) for n in names):
            return
        leaf_first = list(reversed(managed))
        which = bucket(leaf_first)
        shares[which] += weight
        if which in ('other', 'content framing/protobuf/state'):
            others[(which, leaf_first[0])] += weight

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
    total = sum(shares.values())
    for name, weight in shares.most_common():
        share = weight / total
        print(f"{100 * share:5.1f} %" + (f"  {share * cpu:5.2f} ms/MiB" if cpu else "") + f"  {name}")
    if others:
        print("top leaf frames in 'other' and in content framing:")
        for (which, name), weight in others.most_common(8):
            print(f"  {100 * weight / total:5.1f} %  {which[:7]}: {name[:120]}")


if __name__ == '__main__':
    main()
