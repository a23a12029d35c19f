using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;

namespace KontinuumP2P.Dht.Routing;

/// <summary>Maps addresses to the coarse network groups the diversity limits count (IPv4 /16, IPv6 /32).</summary>
public static class IpGroup
{
    /// <summary>
    /// The group of the first IP address in <paramref name="addresses"/>, or null when there is none (memory transport,
    /// DNS names) or it is loopback and <paramref name="includeLoopback"/> is false.
    /// </summary>
    public static string? Of(IReadOnlyList<Multiaddr> addresses, bool includeLoopback)
    {
        foreach (var address in addresses)
        {
            if (address.Components.Count == 0) continue;
            var first = address.Components[0];
            if (first.Protocol.Kind is not (ValueKind.IPv4 or ValueKind.IPv6)) continue;
            var ip = first.AsIPAddress();
            if (IPAddress.IsLoopback(ip) && !includeLoopback) continue;
            return Of(ip);
        }
        return null;
    }

    /// <summary>The group of one IP address.</summary>
    public static string Of(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        var bytes = ip.GetAddressBytes();
        return ip.AddressFamily == AddressFamily.InterNetwork
            ? $"4:{bytes[0]}.{bytes[1]}"
            : $"6:{Convert.ToHexStringLower(bytes.AsSpan(0, 4))}";
    }
}
