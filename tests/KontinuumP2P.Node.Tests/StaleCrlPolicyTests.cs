using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Devnet;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Node.Tests;

/// <summary>
/// Issue #11 item 12: when the CRL cannot be refreshed for longer than the maximum staleness, new certificates are
/// refused (fail closed), peers already admitted stay, and a fresh CRL lifts the refusal.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class StaleCrlPolicyTests
{
    [Test]
    public async Task Past_the_maximum_staleness_new_peers_are_refused_until_a_fresh_crl_arrives(CancellationToken ct)
    {
        var network = new MemoryNetwork();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var authority = new DevnetAuthority("stale", 1, 1, clock);
        using var targetKey = Ed25519Identity.Generate();
        await using var target = new PeerHost(new PeerHostOptions
        {
            Identity = targetKey,
            Transports = [new MemoryTransport(network)],
            ListenAddresses = [Multiaddr.Parse("/memory/stale-target")],
        });
        await target.StartAsync(ct);
        var anchors = TrustAnchors.Create(authority.Network.Anchors!, clock);
        var tracker = new CrlTracker(anchors, new VolatileCrlStateStore(), clock);
        Assert.That(tracker.Accept(authority.IssueCrl([], TimeSpan.FromHours(1))).Status, Is.EqualTo(CrlAcceptanceStatus.Accepted));
        await using var admission = new CertificateAdmission(target, authority.Network, () => tracker.Anchors, tracker,
            authority.IssueCertificate(targetKey, TimeSpan.FromDays(30)), TimeSpan.FromSeconds(30), NullLogger.Instance,
            new AdmissionLimits { MaxCrlStaleness = TimeSpan.FromHours(2), RejudgeInterval = TimeSpan.Zero });
        admission.Start();

        // Before the limit: admitted although the CRL is past next_update.
        using var earlyKey = Ed25519Identity.Generate();
        clock.Advance(TimeSpan.FromHours(2));
        Assert.That(tracker.IsStale, Is.True);
        Assert.That(admission.FailingClosed, Is.False);
        await using var early = await OfferAsync(network, authority, earlyKey, target, ct);
        Assert.That(await SettledAsync(admission, earlyKey.PeerId, ct), Is.EqualTo((AdmissionStatus.Admitted, "valid certificate")));

        // Stale for 2 h 1 min > 2 h: a new certificate is refused, the admitted peer keeps its verdict.
        clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        Assert.That(admission.FailingClosed, Is.True);
        using var lateKey = Ed25519Identity.Generate();
        await using var late = await OfferAsync(network, authority, lateKey, target, ct);
        Assert.That(await SettledAsync(admission, lateKey.PeerId, ct), Is.EqualTo((AdmissionStatus.Refused, "crl-stale")));
        admission.Rejudge();
        Assert.That(admission.GetStatus(earlyKey.PeerId), Is.EqualTo(AdmissionStatus.Admitted));
        Assert.That(admission.GetStatus(lateKey.PeerId), Is.EqualTo(AdmissionStatus.Refused));

        // A fresh CRL ends the fail-closed state; the next re-judgement admits the waiting peer.
        Assert.That(tracker.Accept(authority.IssueCrl([], TimeSpan.FromHours(1))).Status, Is.EqualTo(CrlAcceptanceStatus.Accepted));
        Assert.That(admission.FailingClosed, Is.False);
        admission.Rejudge();
        Assert.That(admission.GetVerdict(lateKey.PeerId).Status, Is.EqualTo(AdmissionStatus.Admitted));
    }

    [Test]
    public void Without_any_crl_staleness_counts_from_the_tracker_start()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var authority = new DevnetAuthority("stale-none", 1, 1, clock);
        var tracker = new CrlTracker(TrustAnchors.Create(authority.Network.Anchors!, clock), new VolatileCrlStateStore(), clock);
        Assert.That(tracker.StaleFor, Is.EqualTo(TimeSpan.Zero));
        clock.Advance(TimeSpan.FromDays(4));
        Assert.That(tracker.StaleFor, Is.EqualTo(TimeSpan.FromDays(4)));
    }

    private static async Task<PeerHost> OfferAsync(MemoryNetwork network, DevnetAuthority authority, Ed25519Identity key, PeerHost target,
        CancellationToken ct)
    {
        var host = new PeerHost(new PeerHostOptions { Identity = key, Transports = [new MemoryTransport(network)] });
        // A Kontinuum peer serves the certificate protocol (else identify makes it a client at once).
        host.SetHandler(authority.Network.CertificateProtocolId, new IgnoreOffers());
        await host.StartAsync(ct);
        var connection = await host.DialAsync(target.ListenAddresses[0].WithPeerId(target.PeerId), ct);
        await CertificateExchange.SendAsync(connection, authority.Network.CertificateProtocolId,
            authority.IssueCertificate(key, TimeSpan.FromDays(30)), ct);
        return host;
    }

    private static async Task<(AdmissionStatus, string)> SettledAsync(CertificateAdmission admission, PeerId peer, CancellationToken ct)
    {
        // The offer is judged when it arrives; wait on the verdict task rather than sleeping.
        var verdict = await admission.WaitForVerdictAsync(peer, ct);
        while (verdict.Status == AdmissionStatus.Pending)
        {
            // Not connected yet as far as admission knows: poll briefly, as AdmissionBoundsTests does.
            await Task.Delay(5, ct);
            verdict = await admission.WaitForVerdictAsync(peer, ct);
        }
        return (verdict.Status, verdict.Reason);
    }

    private sealed class IgnoreOffers : KontinuumP2P.Core.Network.IProtocolHandler
    {
        public async ValueTask HandleAsync(KontinuumP2P.Core.Network.IP2PStream stream, CancellationToken cancellationToken) =>
            await CertificateExchange.ReceiveAsync(stream, cancellationToken);
    }
}
