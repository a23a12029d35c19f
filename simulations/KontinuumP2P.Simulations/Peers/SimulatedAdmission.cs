using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Simulations.Network;

namespace KontinuumP2P.Simulations.Peers;

/// <summary>
/// Admission of one simulated node: judges the certificate each peer presents at first contact with the real
/// <see cref="TrustAnchors.VerifyCertificate(Certificate, IRevocationSource?)"/> against the node's own
/// <see cref="CrlTracker"/>, with the same rules as the node's certificate admission (the certificate must name the
/// peer and carry the key the connection was authenticated with), and hands the verdicts to the DHT.
/// </summary>
public sealed class SimulatedAdmission : IPeerAdmission, IContactObserver
{
    private readonly Func<TrustAnchors> _anchors;
    private readonly IRevocationSource _revocations;
    private readonly Dictionary<PeerId, Verdict> _verdicts = [];

    /// <summary>Creates the admission over the anchors in force and the node's CRL.</summary>
    public SimulatedAdmission(Func<TrustAnchors> anchors, IRevocationSource revocations)
    {
        _anchors = anchors;
        _revocations = revocations;
    }

    /// <summary>Verdicts given so far (memory accounting).</summary>
    public int Judged
    {
        get
        {
            lock (_verdicts) return _verdicts.Count;
        }
    }

    /// <inheritdoc />
    public void OnContact(PeerCredentials peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_verdicts)
        {
            if (_verdicts.ContainsKey(peer.PeerId)) return;
        }
        var verdict = Judge(peer.PeerId, peer.PublicKey, peer.Certificate);
        lock (_verdicts) _verdicts.TryAdd(peer.PeerId, verdict);
    }

    /// <inheritdoc />
    public PeerAdmissionState GetState(PeerId peer)
    {
        lock (_verdicts) return _verdicts.TryGetValue(peer, out var verdict) ? verdict.State : PeerAdmissionState.Pending;
    }

    /// <inheritdoc />
    public ValueTask<PeerAdmissionState> WaitForDecisionAsync(PeerId peer, CancellationToken cancellationToken)
    {
        // Verdicts are given at first contact, before any message is handled; a peer never contacted has offered no
        // certificate, which the real admission also treats as a client once its offer timeout passes.
        var state = GetState(peer);
        return ValueTask.FromResult(state == PeerAdmissionState.Pending ? PeerAdmissionState.QueryOnly : state);
    }

    /// <summary>Judges every admitted peer again (after a newer CRL); returns the peers refused now.</summary>
    public IReadOnlyList<PeerId> Rejudge()
    {
        List<KeyValuePair<PeerId, Verdict>> admitted;
        lock (_verdicts) admitted = [.. _verdicts.Where(v => v.Value.State == PeerAdmissionState.Admitted)];
        var refused = new List<PeerId>();
        foreach (var (peer, verdict) in admitted)
        {
            var again = Judge(peer, verdict.PublicKey, verdict.Certificate);
            if (again.State == PeerAdmissionState.Admitted) continue;
            lock (_verdicts) _verdicts[peer] = again;
            refused.Add(peer);
        }
        return refused;
    }

    private Verdict Judge(PeerId peer, ReadOnlyMemory<byte> publicKey, Certificate? certificate)
    {
        if (certificate is null) return new Verdict(PeerAdmissionState.QueryOnly, publicKey, null);
        var body = certificate.Body;
        if (!body.NodeId.Span.SequenceEqual(peer.Bytes) || !body.NodePublicKey.Span.SequenceEqual(publicKey.Span))
            return new Verdict(PeerAdmissionState.Refused, publicKey, certificate);
        var verification = _anchors().VerifyCertificate(certificate, _revocations);
        return new Verdict(verification.IsValid ? PeerAdmissionState.Admitted : PeerAdmissionState.Refused, publicKey, certificate);
    }

    private sealed record Verdict(PeerAdmissionState State, ReadOnlyMemory<byte> PublicKey, Certificate? Certificate);
}
