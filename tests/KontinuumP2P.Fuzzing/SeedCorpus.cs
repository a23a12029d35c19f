using System.Net;
using System.Text;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Devnet;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;
using KontinuumP2P.Node.Records;

namespace KontinuumP2P.Fuzzing;

/// <summary>
/// Valid seeds for the trust, record, mDNS and TOML targets, made by the real encoders from fixed keys at a fixed
/// instant (Ed25519 signatures are deterministic, so the bytes are reproducible). <c>KontinuumP2P.Fuzzing seeds
/// &lt;corpus&gt;</c> rewrites them; they are committed under <c>corpus/</c>.
/// </summary>
public static class SeedCorpus
{
    /// <summary>The instant the seeds are issued at and the targets check them at.</summary>
    public static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The mDNS service name the seeds and the target use.</summary>
    public const string MdnsService = MdnsOptions.DefaultServiceName;

    /// <summary>The seed network's anchor set (two anchors, threshold two).</summary>
    public static AnchorSet Anchors()
    {
        using var authority = Authority();
        return authority.Network.Anchors!;
    }

    /// <summary>Every generated seed, by target then file name.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, byte[]>> Generate()
    {
        using var authority = Authority();
        using var node = Key(10);
        using var hq = Key(11);
        var certificate = authority.IssueCertificate(node, TimeSpan.FromDays(30));
        var mailboxCertificate = authority.IssueCertificate(node, TimeSpan.FromDays(30), ["dht", "mailbox", "archive"], provider: "provider-b");
        var hqCertificate = authority.IssueCertificate(hq, TimeSpan.FromDays(30), ["dht", SlotRecord.HqCapability]);
        var addresses = new[] { Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001"), Multiaddr.Parse("/ip6/::1/tcp/4001") };
        var record = NodeRecord.Create(certificate, addresses, 7, node);
        var slot = SlotRecord.Create("eu-1", node.PeerId, 3, Now, hqCertificate, hq);
        var instance = $"{node.PeerId}.{MdnsService}";
        var announced = addresses.Select(a => Multiaddr.Parse($"{a}/p2p/{node.PeerId}")).ToList();
        return new Dictionary<string, IReadOnlyDictionary<string, byte[]>>(StringComparer.Ordinal)
        {
            ["certificate"] = new Dictionary<string, byte[]>
            {
                ["dht"] = certificate.Encode(),
                ["mailbox-archive"] = mailboxCertificate.Encode(),
            },
            ["crl"] = new Dictionary<string, byte[]>
            {
                ["empty"] = authority.IssueCrl([], TimeSpan.FromDays(1)).Encode(),
                ["three-revoked"] = authority.IssueCrl([Key(20).PeerId, Key(21).PeerId, Key(22).PeerId], TimeSpan.FromDays(1)).Encode(),
            },
            ["node-record"] = new Dictionary<string, byte[]> { ["two-addresses"] = record.Encode() },
            ["slot-record"] = new Dictionary<string, byte[]> { ["eu-1"] = slot.Encode() },
            ["mdns"] = new Dictionary<string, byte[]>
            {
                ["query"] = MdnsPackets.BuildQuery(MdnsService),
                ["response"] = MdnsPackets.BuildResponse(MdnsService, instance, announced, TimeSpan.FromMinutes(2), 1400, out _),
                ["a-aaaa-srv"] = DnsMessageWriter.Encode(new DnsMessage(0, DnsMessage.ResponseFlag, [],
                [
                    new AddressDnsRecord("host.local", DnsClass.Internet, 120, IPAddress.Loopback),
                    new AddressDnsRecord("host.local", DnsClass.Internet, 120, IPAddress.IPv6Loopback),
                    new SrvDnsRecord(instance, DnsClass.Internet, 120, 0, 0, 4001, "host.local"),
                ], [], [])),
            },
            ["toml"] = new Dictionary<string, byte[]>
            {
                ["devnet-node"] = Encoding.UTF8.GetBytes(DevnetToml()),
                ["empty"] = [],
            },
        };
    }

    /// <summary>Writes <see cref="Generate"/> into <paramref name="corpus"/>/&lt;target&gt;/&lt;name&gt;.</summary>
    public static void Write(string corpus)
    {
        foreach (var (target, seeds) in Generate())
        {
            Directory.CreateDirectory(Path.Combine(corpus, target));
            foreach (var (name, bytes) in seeds) File.WriteAllBytes(Path.Combine(corpus, target, name), bytes);
        }
    }

    private static DevnetAuthority Authority() => new("fuzz", [Key(1), Key(2)], threshold: 2, new FuzzTargets.FixedTime(Now));

    private static Ed25519Identity Key(byte n)
    {
        var seed = new byte[32];
        seed[0] = n;
        return Ed25519Identity.FromSeed(seed);
    }

    // The node.toml a devnet writes (the real writer), with its temporary folder replaced by a fixed one.
    private static string DevnetToml()
    {
        var folder = Directory.CreateTempSubdirectory("kontinuum-fuzz-seed-").FullName;
        try
        {
            var files = DevnetLayout.Write(folder, 2, 20000, TimeSpan.FromDays(30), new FuzzTargets.FixedTime(Now));
            return File.ReadAllText(files.Nodes[1].ConfigPath).Replace(folder, "/var/lib/kontinuum-devnet", StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
