using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Routing;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Simulations.Network;

namespace KontinuumP2P.Simulations.Peers;

/// <summary>How a simulated node behaves.</summary>
public enum PeerRole
{
    /// <summary>A certified node running the DHT as shipped.</summary>
    Honest,
    /// <summary>No valid certificate of its own: presents none, or one stolen from an honest node; answers with other Sybils.</summary>
    Uncertified,
    /// <summary>Presents its own certificate, which the CRL in force revokes; answers with other Sybils.</summary>
    Revoked,
    /// <summary>Certified but malicious: withholds records and answers every query with fellow attackers closest to the key.</summary>
    Poisoner,
    /// <summary>Certified but malicious: withholds records; its closer peers are honest.</summary>
    Withholder,
}

/// <summary>The answer rewriters of misbehaving nodes.</summary>
public static class Misbehaviour
{
    /// <summary>Whether a role is an attacker.</summary>
    public static bool IsAttacker(this PeerRole role) => role != PeerRole.Honest;

    /// <summary>The rewriter for <paramref name="role"/>, or null for honest nodes.</summary>
    /// <param name="role">The role.</param>
    /// <param name="colluders">All attackers' ids and addresses (read at each answer: the set grows as they join).</param>
    /// <param name="resultCount">How many closer peers to name (k).</param>
    public static AnswerRewriter? For(PeerRole role, Func<IReadOnlyList<Colluder>> colluders, int resultCount) => role switch
    {
        PeerRole.Honest => null,
        PeerRole.Withholder => (_, _, answer) => answer with { Record = null },
        _ => (from, request, answer) => answer with
        {
            Record = null,
            CloserPeers = request.Type is KadMessageType.FindNode or KadMessageType.GetValue or KadMessageType.GetProviders
                ? Closest(colluders(), request.Key.Span, from, resultCount)
                : answer.CloserPeers,
            ProviderPeers = [],
        },
    };

    private static List<KadPeer> Closest(IReadOnlyList<Colluder> colluders, ReadOnlySpan<byte> key, PeerId requester, int count)
    {
        var target = KadId.FromKey(key);
        return [.. colluders.Where(c => c.Peer.PeerId != requester)
            .OrderBy(c => c.Id.DistanceTo(target))
            .Take(count)
            .Select(c => c.Peer)];
    }
}

/// <summary>An attacker as its fellows know it.</summary>
/// <param name="Peer">Its id and addresses.</param>
/// <param name="Id">Its kad id (precomputed: answers sort by it).</param>
public readonly record struct Colluder(KadPeer Peer, KadId Id);
