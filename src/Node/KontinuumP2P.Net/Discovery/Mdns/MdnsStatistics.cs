using System.Diagnostics.Metrics;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>Counters of one <see cref="MdnsService"/>, exported as metrics and readable directly.</summary>
public sealed class MdnsStatistics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "KontinuumP2P.Discovery.Mdns";

    private readonly Counter<long>? _received;
    private readonly Counter<long>? _sent;
    private readonly Counter<long>? _dropped;
    private readonly Counter<long>? _suppressed;
    private readonly Counter<long>? _discovered;
    private long _packetsReceived;
    private long _queriesSent;
    private long _responsesSent;
    private long _packetsDropped;
    private long _responsesSuppressed;
    private long _peersDiscovered;

    internal MdnsStatistics(IMeterFactory? meterFactory)
    {
        if (meterFactory is null) return;
        var meter = meterFactory.Create(MeterName);
        _received = meter.CreateCounter<long>("kontinuum.mdns.packets.received", "{packet}", "mDNS datagrams received");
        _sent = meter.CreateCounter<long>("kontinuum.mdns.packets.sent", "{packet}", "mDNS datagrams sent, by kind");
        _dropped = meter.CreateCounter<long>("kontinuum.mdns.packets.dropped", "{packet}", "mDNS datagrams dropped, by reason");
        _suppressed = meter.CreateCounter<long>("kontinuum.mdns.responses.suppressed", "{response}",
            "responses not sent: rate limit or known answer");
        _discovered = meter.CreateCounter<long>("kontinuum.mdns.peers.discovered", "{peer}", "new or changed peers reported");
    }

    /// <summary>Datagrams received.</summary>
    public long PacketsReceived => Interlocked.Read(ref _packetsReceived);
    /// <summary>Queries sent (one per interface per round).</summary>
    public long QueriesSent => Interlocked.Read(ref _queriesSent);
    /// <summary>Responses sent.</summary>
    public long ResponsesSent => Interlocked.Read(ref _responsesSent);
    /// <summary>Datagrams dropped: malformed, oversized, wrong source port, or over a bound.</summary>
    public long PacketsDropped => Interlocked.Read(ref _packetsDropped);
    /// <summary>Responses coalesced by the rate limit or suppressed by known answers.</summary>
    public long ResponsesSuppressed => Interlocked.Read(ref _responsesSuppressed);
    /// <summary>Peers reported as new or changed.</summary>
    public long PeersDiscovered => Interlocked.Read(ref _peersDiscovered);

    internal void Received()
    {
        Interlocked.Increment(ref _packetsReceived);
        _received?.Add(1);
    }

    internal void Sent(bool query)
    {
        Interlocked.Increment(ref query ? ref _queriesSent : ref _responsesSent);
        _sent?.Add(1, new KeyValuePair<string, object?>("kind", query ? "query" : "response"));
    }

    internal void Dropped(string reason)
    {
        Interlocked.Increment(ref _packetsDropped);
        _dropped?.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    internal void Suppressed()
    {
        Interlocked.Increment(ref _responsesSuppressed);
        _suppressed?.Add(1);
    }

    internal void Discovered()
    {
        Interlocked.Increment(ref _peersDiscovered);
        _discovered?.Add(1);
    }
}
