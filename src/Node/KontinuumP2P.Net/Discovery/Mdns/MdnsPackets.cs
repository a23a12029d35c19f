using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Discovery.Dns;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>One peer announced in an mDNS response.</summary>
/// <param name="PeerId">The announced peer.</param>
/// <param name="Addresses">Its addresses without <c>/p2p/</c>.</param>
/// <param name="Ttl">The smallest TTL of its records; zero is a goodbye.</param>
/// <param name="InstanceName">The DNS-SD instance name (<c>&lt;peer-name&gt;.&lt;service&gt;</c>).</param>
public sealed record MdnsAnnouncement(PeerId PeerId, IReadOnlyList<Multiaddr> Addresses, TimeSpan Ttl, string InstanceName);

/// <summary>Builds and interprets libp2p mDNS packets (no I/O).</summary>
public static class MdnsPackets
{
    /// <summary>Prefix of a libp2p TXT attribute carrying one multiaddr.</summary>
    public const string DnsAddrPrefix = "dnsaddr=";

    /// <summary>The query js sends: id 0, flags 0, one question <c>&lt;service&gt; PTR IN</c>.</summary>
    public static byte[] BuildQuery(string serviceName) =>
        DnsMessageWriter.Encode(DnsMessage.Query(0, 0, new DnsQuestion(serviceName, DnsRecordType.Ptr)), 512);

    /// <summary>
    /// Builds a response: id 0, flags QR|AA, answers = the PTR then one TXT <c>dnsaddr=&lt;addr&gt;</c> per address (as
    /// @libp2p/mdns sends; js, go and rust read TXT records from answers). Addresses whose attribute would exceed 255
    /// bytes, or that no longer fit in <paramref name="maxLength"/>, are left out.
    /// </summary>
    /// <param name="serviceName">Service name.</param>
    /// <param name="instanceName">Our instance name.</param>
    /// <param name="addresses">Addresses ending in <c>/p2p/&lt;our id&gt;</c>.</param>
    /// <param name="ttl">Record TTL.</param>
    /// <param name="maxLength">Largest packet.</param>
    /// <param name="included">How many addresses made it into the packet.</param>
    public static byte[] BuildResponse(
        string serviceName, string instanceName, IReadOnlyList<Multiaddr> addresses, TimeSpan ttl, int maxLength, out int included)
    {
        var seconds = (uint)Math.Clamp(ttl.TotalSeconds, 0, uint.MaxValue);
        var answers = new List<DnsRecord> { new NameDnsRecord(serviceName, DnsClass.Internet, seconds, DnsRecordType.Ptr, instanceName) };
        var best = DnsMessageWriter.Encode(Response(answers), maxLength);
        included = 0;
        foreach (var address in addresses)
        {
            var attribute = Encoding.UTF8.GetBytes(DnsAddrPrefix + address);
            if (attribute.Length > 255) continue;
            answers.Add(new TxtDnsRecord(instanceName, DnsClass.Internet, seconds, [attribute]));
            try
            {
                best = DnsMessageWriter.Encode(Response(answers), maxLength);
                included++;
            }
            catch (DnsFormatException)
            {
                answers.RemoveAt(answers.Count - 1);
                break;
            }
        }
        return best;
    }

    private static DnsMessage Response(List<DnsRecord> answers) =>
        new(0, DnsMessage.ResponseFlag | DnsMessage.AuthoritativeFlag, [], [.. answers], [], []);

    /// <summary>
    /// True when <paramref name="query"/> asks for <paramref name="serviceName"/> (type PTR or ANY, class IN) and does
    /// not already list our PTR with at least half its TTL left (known-answer suppression, RFC 6762 §7.1).
    /// </summary>
    public static bool ShouldAnswer(DnsMessage query, string serviceName, string instanceName, TimeSpan ttl, out bool suppressed)
    {
        suppressed = false;
        if (query.IsResponse || query.Opcode != 0) return false;
        var asked = query.Questions.Any(q =>
            string.Equals(q.Name, serviceName, StringComparison.OrdinalIgnoreCase)
            && q.Type is DnsRecordType.Ptr or DnsRecordType.Any
            && (q.Class & ~DnsClass.TopBit) == DnsClass.Internet);
        if (!asked) return false;
        suppressed = query.Answers.OfType<NameDnsRecord>().Any(a =>
            a.Type == DnsRecordType.Ptr
            && string.Equals(a.Name, serviceName, StringComparison.OrdinalIgnoreCase)
            && string.Equals(a.Target, instanceName, StringComparison.OrdinalIgnoreCase)
            && a.Ttl >= ttl.TotalSeconds / 2);
        return !suppressed;
    }

    /// <summary>
    /// Extracts the peers announced in a response: every PTR for <paramref name="serviceName"/> in the answers, except
    /// our own <paramref name="ownInstanceName"/>, with the <c>dnsaddr=</c> TXT attributes of its instance found in the
    /// answers or additionals. The PeerId is taken from the first valid multiaddr; addresses naming another peer are
    /// ignored. Unparsable attributes are counted in <paramref name="rejectedAttributes"/>.
    /// </summary>
    public static IReadOnlyList<MdnsAnnouncement> ReadAnnouncements(
        DnsMessage response, string serviceName, string ownInstanceName, int maxAddressesPerPeer, out int rejectedAttributes)
    {
        rejectedAttributes = 0;
        var result = new List<MdnsAnnouncement>();
        if (!response.IsResponse) return result;
        var txts = response.Answers.Concat(response.Additionals).OfType<TxtDnsRecord>().ToList();
        foreach (var ptr in response.Answers.OfType<NameDnsRecord>())
        {
            if (ptr.Type != DnsRecordType.Ptr || !string.Equals(ptr.Name, serviceName, StringComparison.OrdinalIgnoreCase)) continue;
            if (string.Equals(ptr.Target, ownInstanceName, StringComparison.OrdinalIgnoreCase)) continue;
            PeerId? peer = null;
            var addresses = new List<Multiaddr>();
            var ttl = ptr.Ttl;
            foreach (var txt in txts.Where(t => string.Equals(t.Name, ptr.Target, StringComparison.OrdinalIgnoreCase)))
            {
                ttl = Math.Min(ttl, txt.Ttl);
                foreach (var attribute in txt.Strings)
                {
                    if (!TryReadDnsAddr(attribute, out var address))
                    {
                        if (attribute.AsSpan().StartsWith("dnsaddr="u8)) rejectedAttributes++;
                        continue;
                    }
                    peer ??= address!.PeerId;
                    var bare = address!.WithoutPeerId();
                    if (address.PeerId == peer && addresses.Count < maxAddressesPerPeer && !addresses.Contains(bare)) addresses.Add(bare);
                }
            }
            if (peer is not null) result.Add(new MdnsAnnouncement(peer, addresses, TimeSpan.FromSeconds(ttl), ptr.Target));
        }
        return result;
    }

    private static bool TryReadDnsAddr(byte[] attribute, out Multiaddr? address)
    {
        address = null;
        if (!attribute.AsSpan().StartsWith("dnsaddr="u8)) return false;
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(attribute, DnsAddrPrefix.Length, attribute.Length - DnsAddrPrefix.Length);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        try
        {
            // Only addresses that name their peer are usable (the spec mandates /p2p/ in mDNS TXT values).
            return Multiaddr.TryParse(text, out address) && address!.PeerId is not null;
        }
        catch (Exception e) when (e is ArgumentException or OverflowException or InvalidOperationException)
        {
            return false;
        }
    }
}
