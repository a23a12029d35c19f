using System.Net;

namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>Settings of <see cref="DnsResolver"/>.</summary>
public sealed class DnsResolverOptions
{
    /// <summary>
    /// The recursive DNS servers to ask, in order. Empty means the <c>nameserver</c> lines of <c>/etc/resolv.conf</c>
    /// (127.0.0.53 … as configured), or 127.0.0.1:53 when there are none.
    /// </summary>
    public IReadOnlyList<IPEndPoint> Servers { get; init; } = [];

    /// <summary>How long to wait for one server's answer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Rounds over the server list before giving up.</summary>
    public int Attempts { get; init; } = 2;

    /// <summary>Longest a positive answer is cached (the seed: 60 s); a smaller record TTL wins, TTL 0 is not cached.</summary>
    public TimeSpan PositiveCacheTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long NXDOMAIN and empty answers are cached (the seed: 10 s).</summary>
    public TimeSpan NegativeCacheTime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most cached answers.</summary>
    public int MaxCacheEntries { get; init; } = 1024;

    /// <summary>UDP payload size advertised with EDNS(0); larger answers come back truncated and are fetched over TCP.</summary>
    public int UdpPayloadSize { get; init; } = 1232;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (Timeout <= TimeSpan.Zero) throw new ArgumentException("Timeout must be positive");
        if (Attempts < 1) throw new ArgumentException("Attempts must be at least 1");
        if (PositiveCacheTime < TimeSpan.Zero || NegativeCacheTime < TimeSpan.Zero) throw new ArgumentException("cache times must not be negative");
        if (MaxCacheEntries < 1) throw new ArgumentException("MaxCacheEntries must be positive");
        if (UdpPayloadSize is < 512 or > 4096) throw new ArgumentException("UdpPayloadSize must be 512..4096");
    }

    /// <summary>The servers to use: <see cref="Servers"/>, else resolv.conf, else 127.0.0.1:53.</summary>
    public IReadOnlyList<IPEndPoint> EffectiveServers()
    {
        if (Servers.Count > 0) return Servers;
        var fromFile = new List<IPEndPoint>();
        try
        {
            foreach (var line in File.ReadLines("/etc/resolv.conf").Take(256))
            {
                var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && parts[0] == "nameserver" && IPAddress.TryParse(parts[1], out var ip)) fromFile.Add(new IPEndPoint(ip, 53));
            }
        }
        catch (IOException)
        {
            // no resolv.conf: fall through to the loopback default
        }
        catch (UnauthorizedAccessException)
        {
            // unreadable: same
        }
        return fromFile.Count > 0 ? fromFile : [new IPEndPoint(IPAddress.Loopback, 53)];
    }
}
