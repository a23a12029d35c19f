using System.Net;
using System.Net.Sockets;
using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>
/// Turns <c>/dns4</c>, <c>/dns6</c>, <c>/dns</c> and <c>/dnsaddr</c> multiaddrs into IP multiaddrs (libp2p
/// DNSADDR.md): dnsaddr reads the <c>dnsaddr=</c> TXT strings of <c>_dnsaddr.&lt;host&gt;</c>, keeps only entries for
/// the peer named by a trailing <c>/p2p/</c>, and recurses into nested entries within depth, lookup and result bounds.
/// NXDOMAIN or an empty answer gives no addresses (not an error).
/// </summary>
public sealed class MultiaddrResolver
{
    /// <summary>Deepest dnsaddr nesting followed (js-libp2p uses 32).</summary>
    public const int MaxDepth = 32;
    /// <summary>Most DNS lookups one resolution may make.</summary>
    public const int MaxLookups = 64;
    /// <summary>Most addresses one resolution returns.</summary>
    public const int MaxResults = 128;

    private readonly DnsResolver _resolver;
    private readonly ILogger _logger;

    /// <summary>Creates a resolver over <paramref name="resolver"/>.</summary>
    public MultiaddrResolver(DnsResolver resolver, ILoggerFactory? loggerFactory = null)
    {
        _resolver = resolver ?? throw new ArgumentNullException(nameof(resolver));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<MultiaddrResolver>();
    }

    /// <summary>True when the first component needs DNS.</summary>
    public static bool NeedsResolution(Multiaddr address) =>
        address?.Components.Count > 0 && address.Components[0].Protocol.Code is 0x35 or 0x36 or 0x37 or 0x38;

    /// <summary>Resolves <paramref name="address"/>; IP addresses come back unchanged.</summary>
    /// <exception cref="DnsResolutionException">The top-level lookup failed (nested failures only drop their branch).</exception>
    public async ValueTask<IReadOnlyList<Multiaddr>> ResolveAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var state = new Walk();
        await ResolveIntoAsync(address, address.PeerId, 0, state, topLevel: true, cancellationToken).ConfigureAwait(false);
        return state.Results;
    }

    private async ValueTask ResolveIntoAsync(
        Multiaddr address, PeerId? wanted, int depth, Walk state, bool topLevel, CancellationToken cancellationToken)
    {
        if (state.Results.Count >= MaxResults) return;
        if (!NeedsResolution(address))
        {
            if (wanted is null || address.PeerId == wanted)
            {
                if (!state.Results.Contains(address)) state.Results.Add(address);
            }
            return;
        }
        if (++state.Lookups > MaxLookups)
        {
            DnsLog.BranchFailed(_logger, address, $"more than {MaxLookups} lookups");
            return;
        }
        try
        {
            var first = address.Components[0];
            var host = first.AsText();
            if (first.Protocol.Code == MultiaddrProtocol.DnsAddr.Code)
            {
                if (depth >= MaxDepth)
                {
                    DnsLog.BranchFailed(_logger, address, $"dnsaddr nested deeper than {MaxDepth}");
                    return;
                }
                foreach (var entry in await DnsAddrEntriesAsync(host, wanted, cancellationToken).ConfigureAwait(false))
                    await ResolveIntoAsync(entry, wanted, depth + 1, state, topLevel: false, cancellationToken).ConfigureAwait(false);
                return;
            }
            var rest = address.Components.Skip(1).ToList();
            var families = first.Protocol.Code switch
            {
                0x36 => new[] { DnsRecordType.A },
                0x37 => new[] { DnsRecordType.Aaaa },
                _ => new[] { DnsRecordType.A, DnsRecordType.Aaaa },
            };
            foreach (var type in families)
            {
                var answer = await _resolver.QueryAsync(host, type, cancellationToken).ConfigureAwait(false);
                foreach (var record in answer.Records.OfType<AddressDnsRecord>())
                {
                    var resolved = WithIp(record.Address, rest);
                    await ResolveIntoAsync(resolved, wanted, depth, state, topLevel: false, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (!topLevel && e is DnsResolutionException or DnsFormatException)
        {
            DnsLog.BranchFailed(_logger, address, e.Message);
        }
    }

    private async ValueTask<List<Multiaddr>> DnsAddrEntriesAsync(string host, PeerId? wanted, CancellationToken cancellationToken)
    {
        var answer = await _resolver.QueryAsync("_dnsaddr." + host, DnsRecordType.Txt, cancellationToken).ConfigureAwait(false);
        var entries = new List<Multiaddr>();
        foreach (var txt in answer.Records.OfType<TxtDnsRecord>())
        {
            // A TXT record's strings form one value (RFC 7208 style); dnsaddr values fit one string in practice.
            var value = Encoding.UTF8.GetString(txt.Strings.SelectMany(s => s).ToArray()).Trim('"');
            if (!value.StartsWith("dnsaddr=", StringComparison.Ordinal)) continue;
            var text = value["dnsaddr=".Length..];
            if (!Multiaddr.TryParse(text, out var entry))
            {
                DnsLog.SkippedTxt(_logger, host, value, "not a multiaddr");
                continue;
            }
            // Entries for another peer are dropped; entries naming no peer may only be nested dnsaddr (checked below).
            if (wanted is not null && entry!.PeerId is { } id && id != wanted) continue;
            entries.Add(entry!);
        }
        return entries;
    }

    private static Multiaddr WithIp(IPAddress ip, IReadOnlyList<MultiaddrComponent> rest)
    {
        var bare = new IPAddress(ip.GetAddressBytes()); // no scope id: a multiaddr has no room for it
        var head = bare.AddressFamily == AddressFamily.InterNetworkV6 ? $"/ip6/{bare}" : $"/ip4/{bare}";
        return Multiaddr.Parse(head + string.Concat(rest.Select(c => c.ToString())));
    }

    private sealed class Walk
    {
        public List<Multiaddr> Results { get; } = [];
        public int Lookups { get; set; }
    }
}
