#!/usr/bin/env python3
"""Buckets a `perf record -g` of one content-bench phase (scripts/perf-content-phases.sh) into ms of CPU per MiB:
kernel samples by the syscall they ran under, user samples by what their leaf frame is. At -F 999 one sample is about
1 ms of one CPU. For managed frames, record with DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0.
usage: perf-content-buckets.py FILE.perf MIB"""
import collections
import re
import subprocess
import sys

path, mib = sys.argv[1], float(sys.argv[2])
out = subprocess.run(['perf', 'script', '-i', path, '-F', 'ip,sym,dso'], capture_output=True, text=True, check=True).stdout
samples = [s for s in out.split('\n\n') if s.strip()]
kernel, user = collections.Counter(), collections.Counter()
for sample in samples:
    frames = [line.strip() for line in sample.strip().split('\n') if line.strip()]
    leaf = frames[0]
    if '[kernel' in leaf:
        syscall = 'other (interrupts, scheduler)'
        for frame in frames:
            m = re.search(r'(__x64_sys_\w+|__sys_\w+|ksys_\w+)', frame)
            if m:
                syscall = m.group(1)
        kernel[syscall] += 1
    elif 'libcrypto' in leaf:
        user['Noise AEAD (libcrypto)'] += 1
    elif 'libsodium' in leaf:
        user['keystream open (libsodium)'] += 1
    elif 'Blake3' in leaf:
        user['BLAKE3'] += 1
    elif 'libclrjit' in leaf:
        user['JIT'] += 1
    elif 'libc.so' in leaf and re.search(r'mem(move|cpy)', leaf):
        user['memcpy (libc)'] += 1
    elif 'libcoreclr' in leaf:
        user['runtime (coreclr)'] += 1
    else:
        user['other user code'] += 1
print(f'{len(samples)} samples = {len(samples) / mib:.2f} ms/MiB; kernel {sum(kernel.values()) / mib:.2f} ms/MiB')
for name, count in kernel.most_common(10):
    print(f'  kernel {name:38s} {count / mib:5.2f} ms/MiB')
for name, count in user.most_common():
    print(f'  user   {name:38s} {count / mib:5.2f} ms/MiB')
