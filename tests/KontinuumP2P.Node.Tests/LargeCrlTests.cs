using System.Diagnostics;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;

namespace KontinuumP2P.Node.Tests;

/// <summary>A CRL of ~1 MiB (about 20,000 revoked nodes) is published, fetched and applied across a 10-node devnet.</summary>
[TestFixture]
[CancelAfter(300_000)]
[Category("Slow")]
public sealed class LargeCrlTests
{
    [Test]
    public async Task A_one_mebibyte_crl_reaches_every_node(CancellationToken cancellationToken)
    {
        await using var devnet = await DevnetRunner.StartAsync(new DevnetOptions { Nodes = 10 }, cancellationToken);
        var random = new Random(5);
        var revoked = Enumerable.Range(0, 20_000).Select(_ =>
        {
            var key = new byte[32];
            random.NextBytes(key);
            return PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key));
        }).Append(devnet.Nodes[9].PeerId).ToList();
        var crl = devnet.Authority.IssueCrl(revoked, TimeSpan.FromDays(1));
        var size = crl.Encode().Length;

        var watch = Stopwatch.StartNew();
        var (acceptance, stored) = await devnet.Nodes[0].PublishCrlAsync(crl, cancellationToken);
        var published = watch.Elapsed;
        foreach (var node in devnet.Nodes.Skip(1).Take(8)) await node.RefreshCrlAsync(cancellationToken);
        TestContext.Out.WriteLine($"CRL of {size / 1024} KiB: stored on {stored} servers in {published.TotalMilliseconds:0} ms; " +
            $"fetched and applied by 8 more nodes in {(watch.Elapsed - published).TotalMilliseconds:0} ms");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(size, Is.GreaterThan(900 * 1024), "the CRL is about 1 MiB");
            Assert.That(acceptance.IsCurrent, Is.True, acceptance.Detail);
            Assert.That(stored, Is.GreaterThanOrEqualTo(8), "servers stored it (values over 64 KiB used to be refused)");
            foreach (var node in devnet.Nodes.Take(9))
            {
                Assert.That(node.CurrentCrl?.Body.CrlNumber, Is.EqualTo(crl.Body.CrlNumber), $"node {node.PeerId}");
                Assert.That(node.Admission!.GetVerdict(devnet.Nodes[9].PeerId).Status, Is.EqualTo(Admission.AdmissionStatus.Refused));
            }
        }
    }
}
