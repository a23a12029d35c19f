namespace KontinuumP2P.Mailbox.Storage;

/// <summary>
/// Bench hook: the store steps that took at least 2 ms, with when they started (<see cref="TimeProvider"/> timestamps,
/// the monotonic clock a client process on the same machine shares), so a bench can line them up with its latency
/// tail. Kept only once started; bounded at 100,000 entries (later ones are dropped).
/// </summary>
internal sealed class StallTimeline
{
    private const int Capacity = 100_000;
    private static readonly TimeSpan Threshold = TimeSpan.FromMilliseconds(2);
    private readonly Lock _lock = new();
    private List<(long Started, string Kind, TimeSpan Elapsed)>? _entries;

    /// <summary>Keeps every stall from now on (and drops what was kept).</summary>
    public void Start()
    {
        lock (_lock) Volatile.Write(ref _entries, []);
    }

    /// <summary>Called by a step; a no-op until <see cref="Start"/> or below 2 ms.</summary>
    public void Record(string kind, long started, TimeSpan elapsed)
    {
        if (elapsed < Threshold || Volatile.Read(ref _entries) is null) return;
        lock (_lock)
        {
            if (_entries is { Count: < Capacity } entries) entries.Add((started, kind, elapsed));
        }
    }

    /// <summary>The stalls kept since <see cref="Start"/> or the last take, in the order they were recorded.</summary>
    public (long Started, string Kind, TimeSpan Elapsed)[] Take()
    {
        lock (_lock)
        {
            if (_entries is null) return [];
            var taken = _entries.ToArray();
            _entries.Clear();
            return taken;
        }
    }
}
