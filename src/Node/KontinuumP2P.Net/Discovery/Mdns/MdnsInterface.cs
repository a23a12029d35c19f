using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>A network interface mDNS runs on.</summary>
/// <param name="Name">OS name, e.g. <c>eth0</c>.</param>
/// <param name="Index">OS interface index.</param>
/// <param name="IPv4">The IPv4 address used to pick the interface for outgoing multicast.</param>
/// <param name="IsLoopback">True for loopback interfaces.</param>
/// <param name="Addresses">Every unicast address of the interface.</param>
public sealed record MdnsInterface(string Name, int Index, IPAddress IPv4, bool IsLoopback, IReadOnlyList<IPAddress> Addresses)
{
    /// <summary>
    /// Lists the interfaces mDNS should use: those <paramref name="filter"/> accepts, or by default every interface that
    /// is up (or of unknown state, as Linux reports <c>lo</c>), has the multicast flag (loopback needs none) and an IPv4
    /// address.
    /// </summary>
    public static IReadOnlyList<MdnsInterface> Enumerate(Func<NetworkInterface, bool>? filter)
    {
        var result = new List<MdnsInterface>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            // Loopback is used even without the MULTICAST flag (Linux's lo lacks it by default): two apps on an offline
            // machine must still find each other, and the group is joined and sent to per interface, so no route is needed.
            var usable = filter?.Invoke(nic)
                ?? (nic.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown
                    && (nic.SupportsMulticast || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback));
            if (!usable || !nic.Supports(NetworkInterfaceComponent.IPv4)) continue;
            var properties = nic.GetIPProperties();
            var addresses = properties.UnicastAddresses.Select(a => a.Address).ToList();
            var ipv4 = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork);
            if (ipv4 is null) continue;
            result.Add(new MdnsInterface(nic.Name, properties.GetIPv4Properties().Index, ipv4,
                nic.NetworkInterfaceType == NetworkInterfaceType.Loopback || IPAddress.IsLoopback(ipv4), addresses));
        }
        return result;
    }

    /// <summary>
    /// True for addresses that belong on a LAN announcement: RFC 1918, CGNAT 100.64/10, IPv4 link-local, IPv6 unique
    /// local fc00::/7 (js's <c>isPrivate</c> rule, loopback handled separately).
    /// </summary>
    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 100 && (b[1] & 0xC0) == 64) || (b[0] == 169 && b[1] == 254);
        }
        return address.AddressFamily == AddressFamily.InterNetworkV6 && (address.GetAddressBytes()[0] & 0xFE) == 0xFC;
    }
}
