using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Net.Discovery.Bootstrap;

/// <summary>One configured bootstrap address and where it came from (e.g. <c>--bootstrap #2</c>, <c>genesis.json</c>).</summary>
/// <param name="Source">Where the entry was written.</param>
/// <param name="Text">The multiaddr text as written.</param>
public sealed record BootstrapEntry(string Source, string Text);

/// <summary>An entry that cannot be used, with the reason; reported and skipped.</summary>
/// <param name="Source">Where the entry was written.</param>
/// <param name="Text">The entry as written.</param>
/// <param name="Reason">Why it was skipped.</param>
public sealed record BootstrapProblem(string Source, string Text, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => $"{Source}: '{Text}': {Reason}";
}

/// <summary>A bootstrap peer: its PeerId (null for a <c>/dnsaddr</c> that names none) and its addresses.</summary>
/// <param name="PeerId">The peer, or null when only DNS resolution will tell.</param>
/// <param name="Addresses">Its addresses, each ending in <c>/p2p/&lt;id&gt;</c> when the id is known.</param>
public sealed record BootstrapPeer(PeerId? PeerId, IReadOnlyList<Multiaddr> Addresses);

/// <summary>The usable bootstrap peers of every source, and the entries that were skipped.</summary>
/// <param name="Peers">Usable peers, entries of one PeerId merged.</param>
/// <param name="Problems">Skipped entries with their source and reason.</param>
public sealed record BootstrapList(IReadOnlyList<BootstrapPeer> Peers, IReadOnlyList<BootstrapProblem> Problems)
{
    /// <summary>
    /// Parses and validates every entry. An entry is usable when it is a multiaddr over TCP (<c>/ip4</c>, <c>/ip6</c>,
    /// <c>/dns</c>, <c>/dns4</c>, <c>/dns6</c> then <c>/tcp</c>) ending in <c>/p2p/&lt;id&gt;</c> (a bootstrap peer
    /// must prove who it is), or a <c>/dnsaddr</c> (its TXT records carry the ids). Bad entries are collected in
    /// <see cref="Problems"/>; the list is only an error when entries were given and none is usable.
    /// </summary>
    /// <exception cref="BootstrapConfigurationException">Entries were given and none is usable; lists every problem.</exception>
    public static BootstrapList Parse(IEnumerable<BootstrapEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var problems = new List<BootstrapProblem>();
        var byPeer = new Dictionary<PeerId, List<Multiaddr>>();
        var anonymous = new List<BootstrapPeer>();
        var order = new List<object>();
        var count = 0;
        foreach (var entry in entries)
        {
            count++;
            var reason = Validate(entry.Text, out var address);
            if (reason is not null)
            {
                problems.Add(new BootstrapProblem(entry.Source, entry.Text, reason));
                continue;
            }
            if (address!.PeerId is not { } peer)
            {
                var dnsaddr = new BootstrapPeer(null, [address]);
                anonymous.Add(dnsaddr);
                order.Add(dnsaddr);
                continue;
            }
            if (!byPeer.TryGetValue(peer, out var list))
            {
                byPeer[peer] = list = [];
                order.Add(peer);
            }
            if (!list.Contains(address)) list.Add(address);
        }
        var peers = order.Select(o => o as BootstrapPeer ?? new BootstrapPeer((PeerId)o, byPeer[(PeerId)o])).ToList();
        if (count > 0 && peers.Count == 0)
            throw new BootstrapConfigurationException(
                $"none of the {count} bootstrap entries is usable: {string.Join("; ", problems)}", problems);
        return new BootstrapList(peers, problems);
    }

    private static string? Validate(string? text, out Multiaddr? address)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(text)) return "empty entry";
        try
        {
            address = Multiaddr.Parse(text.Trim());
        }
        catch (FormatException e)
        {
            return $"not a multiaddr: {e.Message}";
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            return $"not a multiaddr: {e.Message}";
        }
        var components = address.Components;
        if (components.Count == 0) return "empty multiaddr";
        var first = components[0].Protocol;
        if (first.Code == MultiaddrProtocol.DnsAddr.Code)
            return components.Skip(1).All(c => c.Protocol.Code == MultiaddrProtocol.P2p.Code) && components.Count <= 2
                ? null
                : "a /dnsaddr entry may only be followed by /p2p/<id>";
        if (first.Kind is not (ValueKind.IPv4 or ValueKind.IPv6) && first.Code is not (0x35 or 0x36 or 0x37))
            return $"unsupported network protocol /{first.Name} (use /ip4, /ip6, /dns, /dns4, /dns6 or /dnsaddr)";
        if (components.Count < 2 || components[1].Protocol.Code != MultiaddrProtocol.Tcp.Code)
            return "unsupported transport: only /tcp can be dialed";
        if (address.PeerId is null) return "no /p2p/<peer id>: a bootstrap peer must be identified";
        if (components.Count != 3) return "unsupported protocols after /tcp (expected /tcp/<port>/p2p/<id>)";
        if (components[1].AsPort() == 0) return "port 0 cannot be dialed";
        return null;
    }
}

/// <summary>No configured bootstrap entry can be used.</summary>
public sealed class BootstrapConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BootstrapConfigurationException(string message, IReadOnlyList<BootstrapProblem> problems) : base(message) => Problems = problems;

    /// <summary>Creates the exception.</summary>
    public BootstrapConfigurationException(string message) : this(message, [])
    {
    }

    /// <summary>Creates the exception.</summary>
    public BootstrapConfigurationException() : this("no usable bootstrap entry")
    {
    }

    /// <summary>Creates the exception.</summary>
    public BootstrapConfigurationException(string message, Exception innerException) : base(message, innerException) => Problems = [];

    /// <summary>Every skipped entry.</summary>
    public IReadOnlyList<BootstrapProblem> Problems { get; } = [];
}
