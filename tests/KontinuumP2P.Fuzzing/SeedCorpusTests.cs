using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Records;

namespace KontinuumP2P.Fuzzing;

/// <summary>The generated seeds are valid examples (so mutations start from inputs that reach deep into the decoders).</summary>
[TestFixture]
public sealed class SeedCorpusTests
{
    private static string Corpus(string target) => Path.Combine(TestContext.CurrentContext.TestDirectory, "corpus", target);

    [Test]
    public void Committed_record_and_trust_seeds_are_what_the_real_encoders_write()
    {
        foreach (var (target, seeds) in SeedCorpus.Generate().Where(t => t.Key != "toml"))
        {
            foreach (var (name, bytes) in seeds)
                Assert.That(File.ReadAllBytes(Path.Combine(Corpus(target), name)), Is.EqualTo(bytes), $"corpus/{target}/{name}");
        }
    }

    [Test]
    public void Valid_seeds_decode_and_verify()
    {
        var anchors = TrustAnchors.Create(SeedCorpus.Anchors(), new FuzzTargets.FixedTime(SeedCorpus.Now));
        var seeds = SeedCorpus.Generate();
        using (Assert.EnterMultipleScope())
        {
            foreach (var bytes in seeds["certificate"].Values)
                Assert.That(anchors.VerifyCertificate(Certificate.Decode(bytes), SeedCorpus.Now).Status, Is.EqualTo(CertificateStatus.Valid));
            foreach (var bytes in seeds["crl"].Values)
                Assert.That(anchors.MeetsThreshold(Crl.Decode(bytes).Document, ThresholdKind.Crl, SeedCorpus.Now), Is.True);
            Assert.That(NodeRecord.Decode(seeds["node-record"]["two-addresses"]).HasValidSignature(), Is.True);
            Assert.That(SlotRecord.Decode(seeds["slot-record"]["eu-1"]).HasValidSignature(), Is.True);
            foreach (var bytes in seeds["mdns"].Values) Assert.That(DnsMessageReader.TryDecode(bytes, out _, out var error), Is.True, error);
            Assert.That(NodeConfigLoader.Parse(File.ReadAllText(Path.Combine(Corpus("toml"), "devnet-node")), "devnet-node", new Dictionary<string, string>()).Identity.KeyFile,
                Does.EndWith("node.key"));
        }
    }
}
