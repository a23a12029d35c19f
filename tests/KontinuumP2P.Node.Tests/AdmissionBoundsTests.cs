using System.Diagnostics;
using KontinuumP2P.Certs.Certificates;
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
/// Admission state stays bounded under a connect-push-disconnect loop; transient failures are not verdicts; a renewed
/// certificate is judged afresh; a peer whose identify lacks the certificate protocol is a client at once.
/// </summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class AdmissionBoundsTests
{
    private MemoryNetwork _network = null!;
    private FakeTimeProvider _issuerTime = null!;
    private FakeTimeProvider _anchorTime = null!;
    private DevnetAuthority _authority = null!;
    private Ed25519Identity _targetKey = null!;
    private PeerHost _target = null!;
    private CertificateAdmission _admission = null!;

    [SetUp]
    public async Task StartTargetAsync()
    {
        _network = new MemoryNetwork();
        _issuerTime = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _anchorTime = new FakeTimeProvider(_issuerTime.GetUtcNow());
        _authority = new DevnetAuthority("bounds", 1, 1, _issuerTime);
        _targetKey = Ed25519Identity.Generate();
        _target = new PeerHost(new PeerHostOptions
        {
            Identity = _targetKey,
            Transports = [new MemoryTransport(_network)],
            ListenAddresses = [Multiaddr.Parse("/memory/target")],
        });
        await _target.StartAsync(CancellationToken.None);
        var anchors = TrustAnchors.Create(_authority.Network.Anchors!, _anchorTime);
        _admission = new CertificateAdmission(_target, _authority.Network, () => anchors, null,
            _authority.IssueCertificate(_targetKey, TimeSpan.FromDays(1)), TimeSpan.FromSeconds(30), NullLogger.Instance,
            new AdmissionLimits { MaxRememberedPeers = 32, RejudgeInterval = TimeSpan.FromHours(1) });
        _admission.Start();
    }

    [TearDown]
    public async Task StopTargetAsync()
    {
        await _admission.DisposeAsync();
        await _target.DisposeAsync();
        _targetKey.Dispose();
        _authority.Dispose();
    }

    private Multiaddr TargetAddress => _target.ListenAddresses[0].WithPeerId(_target.PeerId);

    private async Task<PeerHost> StartPeerAsync(Ed25519Identity identity, bool speaksCertificates = true)
    {
        var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new MemoryTransport(_network)] });
        // A Kontinuum peer serves the certificate protocol; a foreign libp2p client does not.
        if (speaksCertificates) host.SetHandler(_authority.Network.CertificateProtocolId, new NoOffers());
        await host.StartAsync(CancellationToken.None);
        return host;
    }

    private async Task<AdmissionVerdict> SettledAsync(PeerId peer, CancellationToken cancellationToken)
    {
        while (_admission.GetVerdict(peer).Status == AdmissionStatus.Pending) await Task.Delay(5, cancellationToken);
        return _admission.GetVerdict(peer);
    }

    [Test]
    public async Task A_connect_push_disconnect_loop_leaves_bounded_state(CancellationToken cancellationToken)
    {
        using var foreign = new DevnetAuthority("elsewhere", 1, 1, TimeProvider.System);
        const int attackers = 200;
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < attackers; i++)
        {
            using var key = Ed25519Identity.Generate();
            await using var attacker = await StartPeerAsync(key);
            var connection = await attacker.DialAsync(TargetAddress, cancellationToken);
            await CertificateExchange.SendAsync(connection, _authority.Network.CertificateProtocolId, foreign.IssueCertificate(key, TimeSpan.FromDays(1)),
                cancellationToken);
            Assert.That((await SettledAsync(key.PeerId, cancellationToken)).Status, Is.EqualTo(AdmissionStatus.Refused));
            await attacker.DisconnectAsync(_target.PeerId, cancellationToken);
            while (_target.Connections.Count > 0) await Task.Delay(5, cancellationToken);
            // A verdict wait on a peer already gone answers at once and creates nothing.
            var wait = Stopwatch.StartNew();
            await _admission.WaitForVerdictAsync(key.PeerId, cancellationToken);
            Assert.That(wait.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        }
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        TestContext.Out.WriteLine($"{attackers} refused peers: held {_admission.Held}, heap {memoryBefore / 1024} KiB → {memoryAfter / 1024} KiB");
        Assert.That(_admission.Held, Is.EqualTo((0, 32)), "no connected entries left; refusals remembered up to the bound");
    }

    [Test]
    public async Task An_empty_offer_is_not_a_verdict_and_a_renewed_certificate_is_judged_afresh(CancellationToken cancellationToken)
    {
        using var foreign = new DevnetAuthority("elsewhere", 1, 1, TimeProvider.System);
        using var key = Ed25519Identity.Generate();
        await using var peer = await StartPeerAsync(key);
        var connection = await peer.DialAsync(TargetAddress, cancellationToken);
        var protocol = _authority.Network.CertificateProtocolId;

        // A stream closed before any offer says nothing: still pending.
        var empty = await connection.NewStreamAsync([protocol], cancellationToken);
        await empty.Output.CompleteAsync();
        await empty.DisposeAsync();
        await CertificateExchange.SendAsync(connection, protocol, foreign.IssueCertificate(key, TimeSpan.FromDays(1)), cancellationToken);
        var first = await SettledAsync(key.PeerId, cancellationToken);

        await CertificateExchange.SendAsync(connection, protocol, _authority.IssueCertificate(key, TimeSpan.FromDays(1)), cancellationToken);
        while (_admission.GetVerdict(key.PeerId).Status != AdmissionStatus.Admitted) await Task.Delay(5, cancellationToken);
        Assert.That(first.Status, Is.EqualTo(AdmissionStatus.Refused), "the empty stream was not taken for a verdict; the foreign certificate was");
    }

    [Test]
    public async Task A_certificate_issued_in_the_future_is_admitted_once_its_time_comes(CancellationToken cancellationToken)
    {
        using var key = Ed25519Identity.Generate();
        _issuerTime.Advance(TimeSpan.FromMinutes(2)); // the issuer's clock runs ahead of ours
        var early = _authority.IssueCertificate(key, TimeSpan.FromDays(1));
        await using var peer = await StartPeerAsync(key);
        var connection = await peer.DialAsync(TargetAddress, cancellationToken);
        await CertificateExchange.SendAsync(connection, _authority.Network.CertificateProtocolId, early, cancellationToken);
        var before = await SettledAsync(key.PeerId, cancellationToken);

        _anchorTime.Advance(TimeSpan.FromMinutes(3));
        _admission.Rejudge();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(before.Reason, Is.EqualTo("certificate-notyetvalid"));
            Assert.That(_admission.GetVerdict(key.PeerId).Status, Is.EqualTo(AdmissionStatus.Admitted), "clock skew is not a permanent refusal");
        }
    }

    [Test]
    public async Task A_peer_whose_identify_lacks_the_certificate_protocol_is_a_client_at_once(CancellationToken cancellationToken)
    {
        using var key = Ed25519Identity.Generate();
        await using var client = await StartPeerAsync(key, speaksCertificates: false);
        var watch = Stopwatch.StartNew();
        await client.DialAsync(TargetAddress, cancellationToken);
        while (_target.Connections.Count == 0) await Task.Delay(1, cancellationToken);
        var verdict = await _admission.WaitForVerdictAsync(key.PeerId, cancellationToken);
        TestContext.Out.WriteLine($"client verdict after {watch.Elapsed.TotalMilliseconds:0} ms (offer timeout 30 s)");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(verdict.Status, Is.EqualTo(AdmissionStatus.ClientOnly));
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "decided on identify, not by the 30 s offer timeout");
        }
    }

    /// <summary>Accepts the target's offer and ignores it.</summary>
    private sealed class NoOffers : KontinuumP2P.Core.Network.IProtocolHandler
    {
        public async ValueTask HandleAsync(KontinuumP2P.Core.Network.IP2PStream stream, CancellationToken cancellationToken) =>
            await CertificateExchange.ReceiveAsync(stream, cancellationToken);
    }
}
