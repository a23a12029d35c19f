using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Records;

namespace KontinuumP2P.Fuzzing;

/// <summary>
/// Targets for file and record input: certificates and CRLs (decoded, then checked against the seed anchors, as a node
/// does with a pushed certificate or a fetched CRL), node and slot records, mDNS packets and node.toml.
/// </summary>
public static partial class FuzzTargets
{
    private static readonly Lazy<TrustAnchors> SeedAnchors = new(() => TrustAnchors.Create(SeedCorpus.Anchors(), new FixedTime(SeedCorpus.Now)));

    /// <summary>A certificate: decode, then verify against the seed network's anchors (signatures, validity, threshold).</summary>
    public static void CertificateTarget(byte[] data)
    {
        try
        {
            var certificate = Certificate.Decode(data);
            SeedAnchors.Value.VerifyCertificate(certificate, SeedCorpus.Now);
        }
        catch (TrustFormatException)
        {
        }
    }

    /// <summary>A CRL: decode, then check its anchor signatures against the CRL threshold.</summary>
    public static void CrlTarget(byte[] data)
    {
        try
        {
            var crl = Crl.Decode(data);
            SeedAnchors.Value.MeetsThreshold(crl.Document, ThresholdKind.Crl, SeedCorpus.Now);
        }
        catch (TrustFormatException)
        {
        }
    }

    /// <summary>A <c>/node/</c> record value: decode, then check its signature.</summary>
    public static void NodeRecordTarget(byte[] data)
    {
        try
        {
            NodeRecord.Decode(data).HasValidSignature();
        }
        catch (FormatException)
        {
        }
    }

    /// <summary>A <c>/slot/</c> record value: decode, then check its signature.</summary>
    public static void SlotRecordTarget(byte[] data)
    {
        try
        {
            SlotRecord.Decode(data).HasValidSignature();
        }
        catch (FormatException)
        {
        }
    }

    /// <summary>An mDNS packet as the receive loop reads it: DNS decode, then the query check and the announcement reader.</summary>
    public static void Mdns(byte[] data)
    {
        if (!DnsMessageReader.TryDecode(data, out var message, out _)) return;
        MdnsPackets.ShouldAnswer(message!, SeedCorpus.MdnsService, "other." + SeedCorpus.MdnsService, TimeSpan.FromMinutes(2), out _);
        MdnsPackets.ReadAnnouncements(message!, SeedCorpus.MdnsService, "own." + SeedCorpus.MdnsService, maxAddressesPerPeer: 16, out _);
    }

    /// <summary>node.toml through the configuration source (<c>AddNodeToml</c>) and the binder, from a real file.</summary>
    public static void Toml(byte[] data)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kontinuum-fuzz-{Environment.ProcessId}-{Environment.CurrentManagedThreadId}.toml");
        File.WriteAllBytes(path, data);
        try
        {
            NodeConfigLoader.Load(path, new Dictionary<string, string>());
        }
        catch (NodeConfigException)
        {
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A clock stopped at one instant, so the seeds' validity windows hold in every run.</summary>
    internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
