using System.Net;
using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;

namespace KontinuumP2P.Net.Tests.Discovery;

[TestFixture]
public sealed class DnsCodecTests
{
    private const string SpecPeer = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

    // Vectors of libp2p-wire-notes §10, produced by dns-packet (the encoder @libp2p/mdns uses; no compression).
    private static readonly byte[] JsQuery = Convert.FromHexString("000000000001000000000000045f703270045f756470056c6f63616c00000c0001");
    private static readonly byte[] JsResponse = Convert.FromHexString(
        "000084000000000200000000" +
        "045f703270045f756470056c6f63616c00" + "000c0001000000780015" + "03616263045f703270045f756470056c6f63616c00" +
        "03616263045f703270045f756470056c6f63616c00" + "0010000100000078005655" +
        Convert.ToHexString(Encoding.ASCII.GetBytes($"dnsaddr=/ip4/127.0.0.1/tcp/1/p2p/{SpecPeer}")));

    /// <summary>One question whose name is a pointer to itself.</summary>
    internal static readonly byte[] SelfPointingName = Convert.FromHexString("000000000001000000000000c00c000c0001");
    /// <summary>A pointer to a later offset.</summary>
    internal static readonly byte[] ForwardPointer = Convert.FromHexString("000000000001000000000000c012000c0001036162630000");
    /// <summary>A 12-byte header claiming 65535 answers.</summary>
    internal static readonly byte[] HugeCounts = Convert.FromHexString("00008400ffffffffffffffff");
    /// <summary>A label with the reserved 0x40 type bits.</summary>
    internal static readonly byte[] ReservedLabelType = Convert.FromHexString("000000000001000000000000416100000c0001");

    [Test]
    public void OurQueryIsByteIdenticalToTheJsQuery()
    {
        Assert.That(MdnsPackets.BuildQuery("_p2p._udp.local"), Is.EqualTo(JsQuery));
        var decoded = DnsMessageReader.Decode(JsQuery);
        Assert.That(decoded.Questions.Single(), Is.EqualTo(new DnsQuestion("_p2p._udp.local", DnsRecordType.Ptr)));
        Assert.That(decoded.IsResponse, Is.False);
    }

    [Test]
    public void AJsResponseDecodesToItsPeerAndAddress()
    {
        Assert.That(JsResponse, Has.Length.EqualTo(177));
        var message = DnsMessageReader.Decode(JsResponse);
        Assert.That(message.Flags, Is.EqualTo(0x8400));
        var announcement = MdnsPackets.ReadAnnouncements(message, "_p2p._udp.local", "me._p2p._udp.local", 8, out var rejected).Single();
        Assert.That(rejected, Is.Zero);
        Assert.That(announcement.PeerId, Is.EqualTo(PeerId.Parse(SpecPeer)));
        Assert.That(announcement.Addresses, Is.EqualTo(new[] { Multiaddr.Parse("/ip4/127.0.0.1/tcp/1") }));
        Assert.That(announcement.Ttl, Is.EqualTo(TimeSpan.FromSeconds(120)));
        Assert.That(announcement.InstanceName, Is.EqualTo("abc._p2p._udp.local"));
        Assert.That(MdnsPackets.ReadAnnouncements(message, "_p2p._udp.local", "ABC._p2p._udp.local", 8, out _), Is.Empty, "our own answer");
    }

    [Test]
    public void OurResponseRoundTripsWithCompressedNames()
    {
        var peer = PeerId.Parse(SpecPeer);
        var addresses = new[] { "/ip4/127.0.0.1/tcp/1", "/ip4/192.168.1.2/tcp/4001", "/ip6/::1/tcp/4001" }
            .Select(a => Multiaddr.Parse(a).WithPeerId(peer)).ToArray();
        var bytes = MdnsPackets.BuildResponse("_p2p._udp.local", "abc._p2p._udp.local", addresses, TimeSpan.FromSeconds(120), 1400, out var included);
        Assert.That(included, Is.EqualTo(3));
        var message = DnsMessageReader.Decode(bytes);
        Assert.That(message.Answers[0], Is.InstanceOf<NameDnsRecord>(), "the PTR comes first; js uses the last PTR");
        Assert.That(message.Answers.OfType<TxtDnsRecord>().Count(), Is.EqualTo(3), "one TXT per address");
        var announcement = MdnsPackets.ReadAnnouncements(message, "_p2p._udp.local", "x", 8, out _).Single();
        Assert.That(announcement.Addresses, Is.EqualTo(addresses.Select(a => a.WithoutPeerId())));
        // The instance label is written once: the TXT owners are 2-byte pointers to the PTR's target.
        var label = new byte[] { 3, (byte)'a', (byte)'b', (byte)'c' };
        var occurrences = Enumerable.Range(0, bytes.Length - 3).Count(i => bytes.AsSpan(i, 4).SequenceEqual(label));
        Assert.That(occurrences, Is.EqualTo(1));
    }

    [Test]
    public void AResponseDropsAddressesThatDoNotFit()
    {
        var peer = PeerId.Parse(SpecPeer);
        var addresses = Enumerable.Range(1, 50).Select(i => Multiaddr.Parse($"/ip4/10.0.0.{i}/tcp/4001").WithPeerId(peer)).ToArray();
        var bytes = MdnsPackets.BuildResponse("_p2p._udp.local", "abc._p2p._udp.local", addresses, TimeSpan.FromSeconds(120), 1400, out var included);
        Assert.That(bytes, Has.Length.LessThanOrEqualTo(1400));
        Assert.That(included, Is.InRange(1, 49));
        Assert.That(DnsMessageReader.Decode(bytes).Answers, Has.Count.EqualTo(included + 1));
    }

    [Test]
    public void AddressRecordsSrvAndUnknownTypesRoundTrip()
    {
        var message = new DnsMessage(7, DnsMessage.ResponseFlag, [new DnsQuestion("host.test", DnsRecordType.A)],
            [
                new AddressDnsRecord("host.test", 1, 60, IPAddress.Parse("10.1.2.3")),
                new AddressDnsRecord("host.test", 1, 60, IPAddress.Parse("2001:db8::1")),
                new SrvDnsRecord("_x._tcp.host.test", 1, 60, 1, 2, 4001, "host.test"),
                new NameDnsRecord("alias.test", 1, 60, DnsRecordType.Cname, "host.test"),
            ], [], [new UnknownDnsRecord("", 1232, 0, 41, [])]);
        var decoded = DnsMessageReader.Decode(DnsMessageWriter.Encode(message));
        Assert.That(decoded.Answers, Is.EqualTo(message.Answers));
        Assert.That(decoded.Additionals.Single(), Is.InstanceOf<UnknownDnsRecord>().With.Property("RawType").EqualTo(41));
    }

    [TestCaseSource(nameof(MalformedPackets))]
    public void MalformedPacketsAreRejected(byte[] packet, string because)
    {
        Assert.That(() => DnsMessageReader.Decode(packet), Throws.InstanceOf<DnsFormatException>(), because);
        Assert.That(DnsMessageReader.TryDecode(packet, out _, out var error), Is.False);
        Assert.That(error, Is.Not.Empty);
    }

    private static IEnumerable<TestCaseData> MalformedPackets()
    {
        yield return new TestCaseData(Array.Empty<byte>(), "empty");
        yield return new TestCaseData(JsQuery[..11], "short header");
        yield return new TestCaseData(SelfPointingName, "pointer loop");
        yield return new TestCaseData(ForwardPointer, "forward pointer");
        yield return new TestCaseData(HugeCounts, "counts beyond the length");
        yield return new TestCaseData(ReservedLabelType, "reserved label type");
        var longLabel = new byte[] { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64 }.Concat(new byte[64]).Concat(new byte[] { 0, 0, 1, 0, 1 }).ToArray();
        yield return new TestCaseData(longLabel, "label over 63 bytes");
        var longName = new List<byte> { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
        for (var i = 0; i < 5; i++) longName.AddRange(new byte[] { 60 }.Concat(Enumerable.Repeat((byte)'a', 60)));
        longName.AddRange(new byte[] { 0, 0, 1, 0, 1 });
        yield return new TestCaseData(longName.ToArray(), "name over 255 bytes");
        var txtOverrun = (byte[])JsResponse.Clone();
        txtOverrun[12 + 48 + 21 + 10] = 0x60; // TXT string length past its RDATA
        yield return new TestCaseData(txtOverrun, "TXT string overrun");
        var badA = Convert.FromHexString("00008400000000010000000001610000010001000000780005" + "0102030405");
        yield return new TestCaseData(badA, "A record of 5 bytes");
        var ptrMismatch = (byte[])JsResponse.Clone();
        ptrMismatch[12 + 17 + 9] = 0x16; // PTR RDLENGTH one longer than its name
        yield return new TestCaseData(ptrMismatch, "PTR length mismatch");
        for (var cut = 13; cut < JsResponse.Length; cut += 17) yield return new TestCaseData(JsResponse[..cut], $"truncated at {cut}");
    }

    [Test]
    public void FuzzedPacketsEitherDecodeOrFailWithDnsFormatException()
    {
        var random = new Random(20261123);
        var seeds = new[] { JsQuery, JsResponse, SelfPointingName };
        int decoded = 0, rejected = 0;
        for (var i = 0; i < 50_000; i++)
        {
            var packet = (byte[])seeds[random.Next(seeds.Length)].Clone();
            var mutations = random.Next(1, 6);
            for (var m = 0; m < mutations; m++)
            {
                switch (random.Next(3))
                {
                    case 0: packet[random.Next(packet.Length)] = (byte)random.Next(256); break;
                    case 1: packet = packet[..random.Next(packet.Length + 1)]; break;
                    default: packet = [.. packet, (byte)random.Next(256)]; break;
                }
                if (packet.Length == 0) break;
            }
            try
            {
                DnsMessageReader.Decode(packet);
                decoded++;
            }
            catch (DnsFormatException)
            {
                rejected++;
            }
        }
        Assert.That(rejected, Is.GreaterThan(10_000));
        Assert.That(decoded, Is.GreaterThan(100), "the fuzzer also produced valid variants");
    }

    [Test]
    public void RandomBytesNeverEscapeAsOtherExceptions()
    {
        var random = new Random(5353);
        for (var i = 0; i < 20_000; i++)
        {
            var packet = new byte[random.Next(0, 300)];
            random.NextBytes(packet);
            if (packet.Length >= 12) packet[4] = packet[6] = packet[8] = packet[10] = 0; // small counts reach the records
            Assert.That(() => DnsMessageReader.TryDecode(packet, out _, out _), Throws.Nothing);
        }
    }

    [TestCase("")]
    [TestCase("a..b")]
    public void InvalidNamesAreNotEncoded(string name)
    {
        var question = new DnsQuestion(name.Length == 0 ? "a." + new string('x', 64) : name, DnsRecordType.A);
        Assert.That(() => DnsMessageWriter.Encode(DnsMessage.Query(1, 0, question)), Throws.InstanceOf<DnsFormatException>());
    }

    [Test]
    public void EscapedDotsSurviveARoundTrip()
    {
        var question = new DnsQuestion(@"my\.host.local", DnsRecordType.Txt);
        var decoded = DnsMessageReader.Decode(DnsMessageWriter.Encode(DnsMessage.Query(1, 0, question)));
        Assert.That(decoded.Questions.Single().Name, Is.EqualTo(@"my\.host.local"));
        Assert.That(DnsMessageWriter.SplitLabels(@"my\.host.local"), Has.Count.EqualTo(2));
    }
}
