using System.Diagnostics;
using System.Net;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery.Dns;
using KontinuumP2P.Net.Discovery.Mdns;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>
/// Seeded mutation fuzzing of everything a LAN packet reaches in <see cref="MdnsService"/>: decoding, reading
/// announcements, known-answer suppression and the per-source peer table. The decoder may only refuse with
/// <see cref="DnsFormatException"/>; the service's packet handler may throw nothing at all.
/// </summary>
[TestFixture]
public sealed class MdnsFuzzTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);
    private const int MaxIterations = 60_000;

    [Test]
    public async Task MutatedMdnsPacketsNeverThrowOutOfThePacketHandler()
    {
        var self = Ed25519Identity.Generate().PeerId;
        await using var service = new MdnsService(self, () => [Multiaddr.Parse("/ip4/10.1.0.1/tcp/4001")],
            new MdnsOptions { PerSourceBurst = 1_000_000, PerSourcePacketsPerSecond = 1_000_000, MaxKnownPeers = 64 });
        var lan = new MdnsInterface("eth0", 2, IPAddress.Parse("10.1.0.1"), false, [IPAddress.Parse("10.1.0.1")]);
        var loopback = new MdnsInterface("lo", 1, IPAddress.Loopback, true, [IPAddress.Loopback]);
        var seeds = Seeds(service.InstanceName).ToArray();
        var random = new Random(6762);
        var clock = Stopwatch.StartNew();
        int iterations = 0, decoded = 0, formatErrors = 0;
        var unexpected = new List<string>();
        while (iterations < MaxIterations && clock.Elapsed < Budget)
        {
            iterations++;
            var packet = Mutate(seeds, random);
            try
            {
                DnsMessageReader.Decode(packet);
                decoded++;
            }
            catch (DnsFormatException)
            {
                formatErrors++;
            }
#pragma warning disable CA1031 // the point is to catch whatever escapes
            catch (Exception e)
            {
                if (unexpected.Count < 5) unexpected.Add($"Decode: {e.GetType().Name}: {e.Message} on {Convert.ToHexString(packet)}");
            }
            var source = new IPEndPoint(IPAddress.Parse($"10.1.{random.Next(4)}.{random.Next(1, 5)}"), random.Next(8) == 0 ? 40000 : 5353);
            try
            {
                service.HandlePacket(packet, source, random.Next(2) == 0 ? lan : loopback);
            }
            catch (Exception e)
            {
                if (unexpected.Count < 5) unexpected.Add($"HandlePacket: {e.GetType().Name}: {e.Message} on {Convert.ToHexString(packet)}");
            }
#pragma warning restore CA1031
        }
        await TestContext.Out.WriteLineAsync($"{iterations} mutated packets in {clock.Elapsed.TotalSeconds:0.0} s: {decoded} decoded, " +
            $"{formatErrors} refused; {service.KnownPeers.Count} peers known, {service.Statistics.PacketsDropped} dropped");
        Assert.That(unexpected, Is.Empty);
        Assert.That(iterations, Is.GreaterThan(5_000), "the time budget allowed too few iterations to mean anything");
        Assert.That(decoded, Is.GreaterThan(iterations / 50), "mutations must also produce decodable variants, reaching the handler's logic");
        Assert.That(formatErrors, Is.GreaterThan(iterations / 10));
        Assert.That(service.KnownPeers, Has.Count.LessThanOrEqualTo(64), "the table bound held");
    }

    private static IEnumerable<byte[]> Seeds(string ownInstance)
    {
        var service = MdnsOptions.DefaultServiceName;
        yield return MdnsPackets.BuildQuery(service);
        for (var n = 1; n <= 6; n += 5)
        {
            var peer = Ed25519Identity.Generate().PeerId;
            var addresses = Enumerable.Range(1, n).Select(i => Multiaddr.Parse($"/ip4/10.1.0.{i}/tcp/{4000 + i}/p2p/{peer}")).ToList();
            yield return MdnsPackets.BuildResponse(service, $"peer{n}.{service}", addresses, TimeSpan.FromSeconds(120), 1400, out _);
            yield return MdnsPackets.BuildResponse(service, $"peer{n}.{service}", addresses, TimeSpan.Zero, 1400, out _);
        }
        // A query carrying a known answer, and a response with its TXT in the additionals.
        yield return DnsMessageWriter.Encode(DnsMessage.Query(0, 0, new DnsQuestion(service, DnsRecordType.Ptr),
            [new NameDnsRecord(service, DnsClass.Internet, 120, DnsRecordType.Ptr, ownInstance)]) with
        {
            Answers = [new NameDnsRecord(service, DnsClass.Internet, 120, DnsRecordType.Ptr, ownInstance)],
            Additionals = [],
        });
        var other = Ed25519Identity.Generate().PeerId;
        yield return DnsMessageWriter.Encode(new DnsMessage(0, DnsMessage.ResponseFlag | DnsMessage.AuthoritativeFlag, [],
            [new NameDnsRecord(service, DnsClass.Internet, 4500, DnsRecordType.Ptr, $"x.{service}")], [],
            [new TxtDnsRecord($"x.{service}", DnsClass.Internet | DnsClass.TopBit, 4500,
                [System.Text.Encoding.UTF8.GetBytes($"dnsaddr=/ip4/10.1.1.1/tcp/1/p2p/{other}"), System.Text.Encoding.UTF8.GetBytes("x=y")])]));
    }

    private static byte[] Mutate(byte[][] seeds, Random random)
    {
        var packet = (byte[])seeds[random.Next(seeds.Length)].Clone();
        var mutations = random.Next(1, 5);
        for (var m = 0; m < mutations && packet.Length > 0; m++)
        {
            var at = random.Next(packet.Length);
            switch (random.Next(8))
            {
                case 0: packet[at] = (byte)random.Next(256); break;                                   // byte flip
                case 1: packet[at] ^= (byte)(1 << random.Next(8)); break;                            // bit flip
                case 2: packet = packet[..at]; break;                                                 // truncate
                case 3: packet = [.. packet[..at], .. RandomBytes(random, random.Next(1, 16)), .. packet[at..]]; break; // insert
                case 4: packet = [.. packet[..at], .. packet[Math.Min(packet.Length, at + random.Next(1, 16))..]]; break; // delete
                case 5:                                                                               // compression pointer
                    if (at + 1 < packet.Length)
                    {
                        packet[at] = (byte)(0xC0 | random.Next(4));
                        packet[at + 1] = (byte)random.Next(256);
                    }
                    break;
                case 6:                                                                               // section count
                    if (packet.Length >= 12) packet[4 + 2 * random.Next(4) + 1] = (byte)random.Next(256);
                    break;
                default:                                                                              // splice two seeds
                    var other = seeds[random.Next(seeds.Length)];
                    packet = [.. packet[..at], .. other[Math.Min(other.Length, 12)..]];
                    break;
            }
        }
        return packet;
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
