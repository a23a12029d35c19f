using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Lookup;

/// <summary>What a lookup wants next.</summary>
public enum LookupActionKind
{
    /// <summary>Send a request to <see cref="LookupAction.Peer"/> now.</summary>
    Request,
    /// <summary>Nothing to send; wait for a response or for <see cref="IPeerLookup.NextDeadline"/>.</summary>
    Wait,
    /// <summary>The lookup is over; read its results.</summary>
    Finished,
}

/// <summary>One step of a lookup.</summary>
/// <param name="Kind">The kind of step.</param>
/// <param name="Peer">The peer to query for <see cref="LookupActionKind.Request"/>.</param>
public readonly record struct LookupAction(LookupActionKind Kind, PeerId? Peer = null)
{
    /// <summary>Wait for responses.</summary>
    public static LookupAction Wait => new(LookupActionKind.Wait);

    /// <summary>Done.</summary>
    public static LookupAction Finished => new(LookupActionKind.Finished);
}

/// <summary>
/// A sans-I/O lookup: the caller passes the clock and responses in and gets requests out. Each peer is asked at most
/// once and never more than the parallelism limit is in flight.
/// </summary>
public interface IPeerLookup
{
    /// <summary>True once the lookup has finished.</summary>
    bool IsFinished { get; }

    /// <summary>Requests currently awaiting an answer.</summary>
    int InFlight { get; }

    /// <summary>The next time at which an in-flight request times out or the lookup's own deadline passes; null once
    /// finished. A driver must <see cref="Poll"/> at that time even when no answer arrived.</summary>
    DateTimeOffset? NextDeadline { get; }

    /// <summary>Advances the lookup: expires timed-out requests and returns the next step.</summary>
    LookupAction Poll(DateTimeOffset now);

    /// <summary>
    /// Reports that <paramref name="peer"/> answered in time but its answer still awaits a verdict (e.g. admission of
    /// the responder): the request no longer times out, and <see cref="OnSuccess"/> or <see cref="OnFailure"/> follows.
    /// Until then the peer holds no parallelism slot but the lookup does not end without it (except at its deadline).
    /// </summary>
    void OnResponseReceived(PeerId peer, DateTimeOffset now);

    /// <summary>Reports an answer of <paramref name="peer"/> naming <paramref name="closerPeers"/> (an
    /// <see cref="IReadOnlyList{T}"/> is walked without allocating).</summary>
    void OnSuccess(PeerId peer, IEnumerable<PeerId> closerPeers, DateTimeOffset now);

    /// <summary>Reports that a request to <paramref name="peer"/> failed.</summary>
    void OnFailure(PeerId peer, DateTimeOffset now);

    /// <summary>Stops the lookup early (cancellation, deadline, or the caller found what it wanted).</summary>
    void Finish(DateTimeOffset now);

    /// <summary>The closest peers that answered, closest first, at most the result count.</summary>
    IReadOnlyList<PeerId> Results();

    /// <summary>Cost so far.</summary>
    LookupStatistics Statistics { get; }
}
