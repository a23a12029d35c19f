using System.Diagnostics;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Node.Admission;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Node.Tests;

/// <summary>
/// Revocation and expiry remove peers that are not connected: in a 20-node network one certificate expires and
/// another peer is revoked while both are away; within one DHT refresh interval neither is in any honest routing table
/// nor in any honest closer-peers answer.
/// </summary>
[TestFixture]
[CancelAfter(300_000)]
[Category("Slow")]
public sealed class RevocationWhileAwayTests
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExpiringValidity = TimeSpan.FromSeconds(60);

    [Test]
    public async Task An_expired_and_a_revoked_peer_leave_every_table_and_answer_while_disconnected(CancellationToken cancellationToken)
    {
        var network = new MemoryNetwork();
        // The issuer's clock is set so that the expiring certificate lapses a few seconds after the network formed.
        var issuerTime = new FakeTimeProvider(DateTimeOffset.UtcNow - ExpiringValidity);
        using var authority = new DevnetAuthority("away", 1, 1, issuerTime);
        var keys = new List<Ed25519Identity>();
        var nodes = new List<KontinuumNode>();
        try
        {
            async Task<KontinuumNode> StartAsync(int index, KontinuumP2P.Certs.Certificates.Certificate? certificate = null)
            {
                var key = Ed25519Identity.Generate();
                keys.Add(key);
                var node = await KontinuumNode.StartAsync(new KontinuumNodeOptions
                {
                    Identity = key,
                    Network = authority.Network,
                    Certificate = certificate ?? authority.IssueCertificate(key, TimeSpan.FromDays(1)),
                    Transports = [new MemoryTransport(network)],
                    ListenAddresses = [Multiaddr.Parse($"/memory/away-{index}")],
                    ExtraBootstrapPeers = nodes.Count == 0 ? [] : [nodes[0].ListenAddresses[0].WithPeerId(nodes[0].PeerId)],
                    CertificateOfferTimeout = TimeSpan.FromSeconds(5),
                    AdmissionLimits = new AdmissionLimits { RejudgeInterval = TimeSpan.FromSeconds(1) },
                    ConfigureDht = o => o with { RefreshInterval = RefreshInterval, MaintenanceTick = TimeSpan.FromSeconds(1) },
                }, cancellationToken);
                nodes.Add(node);
                return node;
            }

            var startWatch = Stopwatch.StartNew();
            for (var i = 0; i < 18; i++) await StartAsync(i);
            TestContext.Out.WriteLine($"18 nodes started in {startWatch.Elapsed.TotalSeconds:0.0} s");
            var revoked = await StartAsync(18);
            // Issued "earlier" so that it lapses soon in real time.
            var expiresIn = TimeSpan.FromSeconds(8);
            using var expiringKey = Ed25519Identity.Generate();
            issuerTime.SetUtcNow(DateTimeOffset.UtcNow - ExpiringValidity + expiresIn);
            var expiringCertificate = authority.IssueCertificate(expiringKey, ExpiringValidity);
            keys.Add(expiringKey);
            var expiring = await KontinuumNode.StartAsync(new KontinuumNodeOptions
            {
                Identity = expiringKey,
                Network = authority.Network,
                Certificate = expiringCertificate,
                Transports = [new MemoryTransport(network)],
                ListenAddresses = [Multiaddr.Parse("/memory/away-19")],
                ExtraBootstrapPeers = [nodes[0].ListenAddresses[0].WithPeerId(nodes[0].PeerId)],
            }, cancellationToken);
            nodes.Add(expiring);
            var honest = nodes.Take(18).ToList();
            foreach (var node in nodes) await node.Dht.RefreshAsync(cancellationToken);
            var victims = new[] { revoked.PeerId, expiring.PeerId };
            int Holding() => honest.Count(n => n.Dht.GetRoutingTable().Any(e => victims.Contains(e.PeerId)));
            var before = Holding();
            Assume.That(before, Is.GreaterThan(5), "precondition: the victims are in honest tables");

            // Both leave; then one is revoked and the other's certificate expires while they are away.
            await revoked.DisposeAsync();
            await expiring.DisposeAsync();
            nodes.Remove(revoked);
            nodes.Remove(expiring);
            var crl = authority.IssueCrl([revoked.PeerId], TimeSpan.FromDays(1));
            var (acceptance, _) = await honest[0].PublishCrlAsync(crl, cancellationToken);
            Assert.That(acceptance.IsCurrent, Is.True, acceptance.Detail);
            foreach (var node in honest.Skip(1)) await node.RefreshCrlAsync(cancellationToken);
            var expiry = expiringCertificate.Body.ValidUntil;
            while (DateTimeOffset.UtcNow < expiry) await Task.Delay(50, cancellationToken);
            var watch = Stopwatch.StartNew();

            // A probe without a certificate asks every honest node for the peers closest to each victim.
            using var probeKey = Ed25519Identity.Generate();
            await using var probe = new PeerHost(new PeerHostOptions { Identity = probeKey, Transports = [new MemoryTransport(network)] });
            await probe.StartAsync(cancellationToken);
            using var kad = new HostKadNetwork(probe, authority.Network.KadProtocolId, TimeSpan.FromSeconds(10));
            async Task<int> NamedInAnswersAsync()
            {
                var named = 0;
                foreach (var node in honest)
                {
                    probe.PeerStore.AddAddresses(node.PeerId, node.ListenAddresses, TimeSpan.FromMinutes(5));
                    foreach (var victim in victims)
                    {
                        var answer = await kad.SendAsync(node.PeerId, KadMessage.Request(KadMessageType.FindNode, victim.ToByteArray()), cancellationToken);
                        named += answer!.CloserPeers.Count(p => victims.Contains(p.PeerId));
                    }
                }
                return named;
            }
            // The tables may drop the departed victim before the next re-judge tick refuses it: wait for both.
            bool StillAdmitted() => honest.Any(n => n.Admission!.GetVerdict(expiring.PeerId).Status == AdmissionStatus.Admitted);
            while ((Holding() > 0 || StillAdmitted() || await NamedInAnswersAsync() > 0) && watch.Elapsed < RefreshInterval)
                await Task.Delay(100, cancellationToken);
            TestContext.Out.WriteLine($"victims in {before} of {honest.Count} honest tables; gone from all tables and answers {watch.Elapsed.TotalMilliseconds:0} ms after the expiry");

            using (Assert.EnterMultipleScope())
            {
                Assert.That(Holding(), Is.Zero, "no honest routing table holds a victim");
                Assert.That(await NamedInAnswersAsync(), Is.Zero, "no honest closer-peers answer names a victim");
                foreach (var node in honest)
                {
                    Assert.That(node.Admission!.GetVerdict(revoked.PeerId).Reason, Is.EqualTo("certificate-revoked"));
                    Assert.That(node.Admission!.GetVerdict(expiring.PeerId).Status, Is.Not.EqualTo(AdmissionStatus.Admitted));
                }
            }
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
            foreach (var key in keys) key.Dispose();
        }
    }
}
