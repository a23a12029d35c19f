"""Where each end of `stream-throughput --split` spends its CPU, from `perf script` output of one process.

perf's samples are on-CPU time (cpu-clock in this VM), so the load does not inflate them the way sampled thread time
does. Every sample goes to one layer by its leaf frame: libcrypto's unnamed assembly (the ChaCha20-Poly1305 kernels) or
its named functions (per-call EVP/ERR overhead), the kernel (split by the system call found on the stack, and for
send/recv into the copy and the rest of TCP), JIT'd managed code, the runtime (libcoreclr) and libc.
usage: perf-stream-split.py PERF-SCRIPT.txt [CPU-NS-PER-BYTE-OF-THIS-END] [DETAIL-LINES]
"""
import collections
import re
import sys

COPIES = ('_copy_to_iter', '_copy_from_iter', 'rep_movs_alternative', 'copy_user_generic')
WAKE_SYSCALLS = ('epoll_wait', 'futex', 'sched_yield', 'nanosleep')


def layer(frames):
    leaf = frames[0]
    if '[kernel.kallsyms]' in leaf:
        call = None
        for frame in frames:
            match = re.search(r'\s(?:__x64_sys_|__do_sys_|__sys_)(\w+)\+0x', frame)
            if match:
                call = match.group(1)
                break
        symbol = re.search(r'\s([\w.]+)\+0x', leaf)
        symbol = symbol.group(1) if symbol else '?'
        if call in ('sendmsg', 'sendto', 'recvfrom', 'recvmsg'):
            part = 'copy' if symbol in COPIES else 'TCP, loopback delivery, ACKs'
            return f'kernel {call}: {part}', f'kernel {call}: {symbol}'
        if call in WAKE_SYSCALLS:
            return 'kernel waits and wake-ups (epoll, futex, yield)', f'kernel {call}: {symbol}'
        if call is None:
            return 'kernel interrupts, preemption, other', f'kernel (no syscall): {symbol}'
        return f'kernel other syscalls', f'kernel {call}: {symbol}'
    if 'libcrypto' in leaf:
        symbol = re.search(r'\s([A-Za-z_][\w.]*)\+0x', leaf)
        if symbol:
            return 'libcrypto per-call overhead (EVP, ERR, alloc)', 'libcrypto: ' + symbol.group(1)
        return 'AEAD kernels (libcrypto assembly)', None
    if 'Native.OpenSsl' in leaf:
        return 'libcrypto per-call overhead (EVP, ERR, alloc)', '.NET OpenSSL shim'
    if '.map)' in leaf:
        name = re.search(r'\] ([\w.+`<>\d]+::[\w.<>`|\d]+)', leaf)
        return 'managed code (ours and the BCL)', 'managed: ' + (name.group(1) if name else leaf[:90])
    if 'libcoreclr' in leaf or 'System.Private.CoreLib' in leaf:
        return 'runtime (libcoreclr)', None
    if 'libc.so' in leaf:
        symbol = re.search(r'\s([\w.]+)\+0x', leaf)
        return 'libc (memmove, syscall stubs)', 'libc: ' + (symbol.group(1) if symbol else '?')
    return 'other', leaf[-60:]


def main():
    path = sys.argv[1]
    ns_per_byte = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    details_wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    layers, details, excluded = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for block in open(path, errors='replace').read().split('\n\n'):
        lines = [line.strip() for line in block.strip().split('\n')]
        frames = lines[1:]
        if not frames:
            continue
        text = '\n'.join(frames)
        if 'AeadBench' in text:
            excluded['the bench\'s own AEAD measurement'] += 1
            continue
        if 'libclrjit' in frames[0]:
            excluded['JIT'] += 1
            continue
        total += 1
        name, detail = layer(frames)
        layers[name] += 1
        if detail:
            details[detail] += 1
    print(f'{total} samples ({", ".join(f"{v} {k}" for k, v in excluded.items()) or "none"} left out)')
    for name, count in layers.most_common():
        print(f'  {100 * count / total:5.1f} %  {ns_per_byte * count / total:6.3f} ns/B  {name}')
    print('  top leaves:')
    for name, count in details.most_common(details_wanted):
        print(f'  {100 * count / total:5.1f} %  {name[:140]}')


if __name__ == '__main__':
    main()
