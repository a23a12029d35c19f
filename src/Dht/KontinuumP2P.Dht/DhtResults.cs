using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Lookup;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Dht.Rpc;

namespace KontinuumP2P.Dht;

/// <summary>A peer found by <see cref="DhtNode.FindPeerAsync(PeerId, bool, CancellationToken)"/>.</summary>
/// <param name="PeerId">The peer.</param>
/// <param name="Addresses">Its addresses.</param>
/// <param name="Statistics">What the lookup cost.</param>
public sealed record FindPeerResult(PeerId PeerId, IReadOnlyList<Multiaddr> Addresses, LookupStatistics Statistics)
{
    /// <summary>Whether a dial reached the peer: null when no confirmation was asked for.</summary>
    public bool? Reachable { get; init; }
}

/// <summary>The outcome of a closest-peers lookup.</summary>
/// <param name="Peers">The closest peers that answered, closest first.</param>
/// <param name="Statistics">What the lookup cost.</param>
public sealed record ClosestPeersResult(IReadOnlyList<KadPeer> Peers, LookupStatistics Statistics);

/// <summary>The best value seen so far by a GET.</summary>
/// <param name="Record">The best valid record.</param>
/// <param name="Holders">Peers that answered with exactly this value.</param>
/// <param name="Answers">Valid answers received so far (all values).</param>
public sealed record DhtValue(DhtRecord Record, IReadOnlyList<PeerId> Holders, int Answers);

/// <summary>Thrown when a record fails its namespace validator.</summary>
public sealed class InvalidRecordException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public InvalidRecordException() : base("invalid record") { }

    /// <summary>Creates the exception with a message.</summary>
    public InvalidRecordException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public InvalidRecordException(string message, Exception inner) : base(message, inner) { }
}
