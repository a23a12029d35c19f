using System.Runtime.InteropServices;

namespace KontinuumP2P.Benchmarks;

/// <summary>getrusage(2) on Linux: CPU seconds and context switches of this process (0), its reaped children (-1) or the calling thread (1).</summary>
internal static class ProcessResourceUsage
{
    /// <summary>User + system seconds, or NaN where getrusage is not available.</summary>
    public static double CpuSeconds(int who) =>
        TryGet(who, out var usage)
            ? usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6
            : double.NaN;

    /// <summary>User + system seconds of the calling thread (RUSAGE_THREAD): preemption by other work does not count.</summary>
    public static double ThreadCpuSeconds() => CpuSeconds(1);

    /// <summary>Voluntary (a thread blocked: a hand-off or a wait) and involuntary (preempted) context switches.</summary>
    public static (long Voluntary, long Involuntary) ContextSwitches() =>
        TryGet(0, out var usage) ? (usage.VoluntarySwitches, usage.InvoluntarySwitches) : (0, 0);

    private static bool TryGet(int who, out Usage usage)
    {
        usage = default;
        return OperatingSystem.IsLinux() && GetResourceUsage(who, out usage) == 0;
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetResourceUsage(int who, out Usage usage);

    /// <summary>Linux x86-64 <c>struct rusage</c>: two timevals, then fourteen longs ending in nvcsw and nivcsw.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 144)]
    private struct Usage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        private readonly long _maxRss, _ixRss, _idRss, _isRss, _minFlt, _majFlt, _nSwap, _inBlock, _ouBlock, _msgSnd, _msgRcv, _nSignals;
        public long VoluntarySwitches;
        public long InvoluntarySwitches;
    }
}
