using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Admission;

/// <summary>
/// How certificate offers travel between peers: over a libp2p host's <c>/kontinuum/cert/1.0.0</c> exchange
/// (<see cref="HostCertificateChannel"/>), or at first contact on a simulated network. Admission judges whatever the
/// channel hands it; the channel decides nothing.
/// </summary>
public interface ICertificateChannel
{
    /// <summary>Starts pushing <paramref name="own"/> to every new peer and handing theirs to <paramref name="sink"/>.</summary>
    void Start(ICertificateSink sink, Certificate? own);

    /// <summary>Whether <paramref name="peer"/> has a connection now (admission keeps waiting entries only for those).</summary>
    bool IsConnected(PeerId peer);

    /// <summary>Stops both directions and waits for pushes under way.</summary>
    ValueTask StopAsync();
}

/// <summary>What a <see cref="ICertificateChannel"/> reports (implemented by <see cref="CertificateAdmission"/>).</summary>
public interface ICertificateSink
{
    /// <summary>A connection to <paramref name="peer"/> authenticated with <paramref name="encodedPublicKey"/> (libp2p key container) opened.</summary>
    void OnConnected(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey);

    /// <summary>The last connection to <paramref name="peer"/> closed.</summary>
    void OnDisconnected(PeerId peer);

    /// <summary>
    /// <paramref name="peer"/> told which protocols it serves (identify); one that does not serve the certificate
    /// protocol will never offer a certificate.
    /// </summary>
    void OnIdentified(PeerId peer, bool servesCertificateProtocol);

    /// <summary>Whether an offer from <paramref name="peer"/> may be read and judged now (per-peer rate limit); asked before reading it.</summary>
    bool TryAcceptOffer(PeerId peer);

    /// <summary><paramref name="peer"/> offered <paramref name="certificate"/> (null: it has none).</summary>
    void OnOffer(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, Certificate? certificate);

    /// <summary><paramref name="peer"/> sent an offer that does not decode.</summary>
    void OnMalformedOffer(PeerId peer, ReadOnlyMemory<byte> encodedPublicKey, string reason);

    /// <summary>Whether a verdict on <paramref name="peer"/> exists already (a channel that sees every message asks first).</summary>
    bool IsDecided(PeerId peer);
}
