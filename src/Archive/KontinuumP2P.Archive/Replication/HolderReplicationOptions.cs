namespace KontinuumP2P.Archive.Replication;

/// <summary>Pace of the <c>peers</c> sink's re-replication loop (<see cref="HolderReplicator"/>).</summary>
public sealed class HolderReplicationOptions
{
    /// <summary>Time between rounds.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most objects checked in one round (the rate limit: this many per <see cref="Interval"/>).</summary>
    public int ObjectsPerRound { get; set; } = 64;

    internal void Validate()
    {
        if (Interval <= TimeSpan.Zero) throw new ArgumentException("the replication interval must be positive", nameof(Interval));
        if (ObjectsPerRound is < 1 or > 100_000) throw new ArgumentException("objects per round must be 1 to 100000", nameof(ObjectsPerRound));
    }
}
