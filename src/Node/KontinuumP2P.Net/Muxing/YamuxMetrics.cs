using System.Diagnostics.Metrics;

namespace KontinuumP2P.Net.Muxing;

/// <summary>Yamux instruments, created once from an <see cref="IMeterFactory"/> and shared by the sessions of a host.</summary>
public sealed class YamuxMetrics
{
    /// <summary>Name of the meter holding the yamux instruments.</summary>
    public const string MeterName = "KontinuumP2P.Net.Yamux";

    private readonly Counter<long> _framesRejected;
    private readonly Counter<long> _streamsOpened;
    private readonly Counter<long> _streamsClosed;
    private readonly Histogram<double> _pingRtt;

    /// <summary>Creates the instruments on the factory's meter.</summary>
    public YamuxMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _framesRejected = meter.CreateCounter<long>("kontinuum.yamux.frames.rejected", "{frame}",
            "Frames refused or that ended a session, by reason.");
        _streamsOpened = meter.CreateCounter<long>("kontinuum.yamux.streams.opened", "{stream}",
            "Streams opened, by direction.");
        _streamsClosed = meter.CreateCounter<long>("kontinuum.yamux.streams.closed", "{stream}",
            "Streams closed, by outcome (fin or reset).");
        _pingRtt = meter.CreateHistogram<double>("kontinuum.yamux.ping.rtt", "ms", "Round-trip time of yamux pings.");
    }

    internal void FrameRejected(string reason) => _framesRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void StreamOpened(bool outbound) =>
        _streamsOpened.Add(1, new KeyValuePair<string, object?>("direction", outbound ? "outbound" : "inbound"));

    internal void StreamClosed(bool reset) =>
        _streamsClosed.Add(1, new KeyValuePair<string, object?>("outcome", reset ? "reset" : "fin"));

    internal void PingRtt(TimeSpan rtt) => _pingRtt.Record(rtt.TotalMilliseconds);
}
