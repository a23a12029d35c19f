using System.Net;
using System.Net.Sockets;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// Connection slots of one host, sans-I/O: inbound and outbound have their own limits, inbound may never take the
/// outbound reserve (so an inbound flood cannot stop our dials), and inbound handshakes in progress are bounded
/// globally and per /24 (IPv4) or /64 (IPv6), because a slot is held through a handshake of up to the handshake
/// timeout. Refusals return a reason string used as the metric tag. Thread-safe.
/// </summary>
internal sealed class ConnectionBudget
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _perIp = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _pendingPerSubnet = new(StringComparer.Ordinal);
    private readonly int _maxTotal;
    private readonly int _maxInbound;
    private readonly int _maxOutbound;
    private readonly int _outboundReserve;
    private readonly int _maxPerIp;
    private readonly int _maxPending;
    private readonly int _maxPendingPerSubnet;
    private int _inbound;
    private int _outbound;
    private int _pending;

    public ConnectionBudget(PeerHostOptions options)
    {
        _maxTotal = options.MaxConnections;
        _maxInbound = options.MaxInboundConnections;
        _maxOutbound = options.MaxOutboundConnections;
        // A tiny host (tests with one slot) keeps at least half its slots usable inbound.
        _outboundReserve = Math.Min(options.OutboundReserve, options.MaxConnections / 2);
        _maxPerIp = options.MaxConnectionsPerIp;
        _maxPending = options.MaxPendingInboundHandshakes;
        _maxPendingPerSubnet = options.MaxPendingHandshakesPerSubnet;
    }

    public int Inbound
    {
        get
        {
            lock (_lock) return _inbound;
        }
    }

    public int Outbound
    {
        get
        {
            lock (_lock) return _outbound;
        }
    }

    public int PendingHandshakes
    {
        get
        {
            lock (_lock) return _pending;
        }
    }

    /// <summary>Reserves an inbound slot and a pending handshake; null on success, else the refusal reason.</summary>
    public string? TryBeginInbound(string? ipKey, string? subnetKey)
    {
        lock (_lock)
        {
            if (_inbound + _outbound >= _maxTotal) return "connection-limit";
            if (_inbound >= _maxInbound) return "inbound-limit";
            if (_inbound + _outbound >= _maxTotal - _outboundReserve) return "outbound-reserve";
            if (_pending >= _maxPending) return "pending-handshake-limit";
            var fromIp = ipKey is null ? 0 : _perIp.GetValueOrDefault(ipKey);
            if (fromIp >= _maxPerIp) return "per-ip-limit";
            var fromSubnet = subnetKey is null ? 0 : _pendingPerSubnet.GetValueOrDefault(subnetKey);
            if (fromSubnet >= _maxPendingPerSubnet) return "pending-handshake-subnet-limit";
            if (ipKey is not null) _perIp[ipKey] = fromIp + 1;
            if (subnetKey is not null) _pendingPerSubnet[subnetKey] = fromSubnet + 1;
            _inbound++;
            _pending++;
            return null;
        }
    }

    /// <summary>The inbound handshake finished (either way): its pending counts go, the slot stays.</summary>
    public void EndHandshake(string? subnetKey)
    {
        lock (_lock)
        {
            _pending--;
            if (subnetKey is not null) Decrement(_pendingPerSubnet, subnetKey);
        }
    }

    public void ReleaseInbound(string? ipKey)
    {
        lock (_lock)
        {
            _inbound--;
            if (ipKey is not null) Decrement(_perIp, ipKey);
        }
    }

    /// <summary>Reserves an outbound slot; null on success, else the refusal reason.</summary>
    public string? TryReserveOutbound()
    {
        lock (_lock)
        {
            if (_inbound + _outbound >= _maxTotal) return "connection-limit";
            if (_outbound >= _maxOutbound) return "outbound-limit";
            _outbound++;
            return null;
        }
    }

    public void ReleaseOutbound()
    {
        lock (_lock) _outbound--;
    }

    /// <summary>The key connections count against per address: the address for IPv4, its /64 for IPv6 (one host owns a /64).</summary>
    public static string AddressKey(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return address.AddressFamily == AddressFamily.InterNetworkV6 ? Prefix(address, 8, 64) : address.ToString();
    }

    /// <summary>The /24 (IPv4) or /64 (IPv6) an address belongs to.</summary>
    public static string SubnetKey(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return address.AddressFamily == AddressFamily.InterNetwork ? Prefix(address, 3, 24) : Prefix(address, 8, 64);
    }

    private static string Prefix(IPAddress address, int bytes, int bits)
    {
        Span<byte> all = stackalloc byte[16];
        address.TryWriteBytes(all, out var length);
        all[bytes..length].Clear();
        return $"{new IPAddress(all[..length])}/{bits}";
    }

    private static void Decrement(Dictionary<string, int> counts, string key)
    {
        if (!counts.TryGetValue(key, out var count)) return;
        if (count <= 1) counts.Remove(key);
        else counts[key] = count - 1;
    }
}
