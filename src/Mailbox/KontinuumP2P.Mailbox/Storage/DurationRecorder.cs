namespace KontinuumP2P.Mailbox.Storage;

/// <summary>
/// Durations of one kind of store step (WAL flush, group commit), kept only once a bench started it, so a node never
/// pays for it; bounded at 1,000,000 (the oldest half is dropped beyond).
/// </summary>
internal sealed class DurationRecorder
{
    private const int Capacity = 1_000_000;
    private readonly Lock _lock = new();
    private List<TimeSpan>? _times;

    /// <summary>Keeps every duration from now on (and drops what was kept).</summary>
    public void Start()
    {
        lock (_lock) Volatile.Write(ref _times, []);
    }

    /// <summary>Called by the step; a no-op until <see cref="Start"/>.</summary>
    public void Record(TimeSpan elapsed)
    {
        // Every commit and flush calls this: a node that never started it takes no lock.
        if (Volatile.Read(ref _times) is null) return;
        lock (_lock)
        {
            if (_times is not { } times) return;
            if (times.Count >= Capacity) times.RemoveRange(0, times.Count / 2);
            times.Add(elapsed);
        }
    }

    /// <summary>The durations kept since <see cref="Start"/> or the last take, sorted.</summary>
    public TimeSpan[] Take()
    {
        lock (_lock)
        {
            if (_times is null) return [];
            var taken = _times.ToArray();
            _times.Clear();
            Array.Sort(taken);
            return taken;
        }
    }
}
