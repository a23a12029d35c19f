using System.Diagnostics.Metrics;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Hosting;

/// <summary>
/// The network metrics of one host, on a meter from the host's <see cref="IMeterFactory"/> (never a static meter).
/// Refused frames are counted by the layer that refuses them (<c>kontinuum.yamux.frames.rejected</c>).
/// </summary>
public sealed class HostMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "KontinuumP2P.Net";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _connectionsOpened;
    private readonly Counter<long> _connectionsClosed;
    private readonly UpDownCounter<long> _connectionsActive;
    private readonly Counter<long> _connectionsRejected;
    private readonly Counter<long> _streamsOpened;
    private readonly UpDownCounter<long> _streamsActive;
    private readonly Counter<long> _streamsRejected;
    private readonly Func<(long Received, long Sent)> _bytes;

    internal HostMetrics(IMeterFactory? factory, Func<(long Received, long Sent)> bytes, Func<int>? pendingHandshakes = null)
    {
        _bytes = bytes;
        _ownsMeter = factory is null;
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _connectionsOpened = _meter.CreateCounter<long>("kontinuum.net.connections.opened", "{connection}", "Connections upgraded");
        _connectionsClosed = _meter.CreateCounter<long>("kontinuum.net.connections.closed", "{connection}", "Connections closed");
        _connectionsActive = _meter.CreateUpDownCounter<long>("kontinuum.net.connections.active", "{connection}", "Open connections");
        _connectionsRejected = _meter.CreateCounter<long>("kontinuum.net.connections.rejected", "{connection}", "Connections refused or failed before use, by reason");
        _streamsOpened = _meter.CreateCounter<long>("kontinuum.net.streams.opened", "{stream}", "Streams negotiated");
        _streamsActive = _meter.CreateUpDownCounter<long>("kontinuum.net.streams.active", "{stream}", "Open streams");
        _streamsRejected = _meter.CreateCounter<long>("kontinuum.net.streams.rejected", "{stream}", "Inbound streams refused, by reason");
        _meter.CreateObservableCounter("kontinuum.net.bytes.received", () => _bytes().Received, "By", "Bytes received on raw connections");
        if (pendingHandshakes is not null)
            _meter.CreateObservableGauge("kontinuum.net.handshakes.pending", pendingHandshakes, "{connection}", "Inbound connections still in their handshake");
        _meter.CreateObservableCounter("kontinuum.net.bytes.sent", () => _bytes().Sent, "By", "Bytes sent on raw connections");
    }


    internal void ConnectionOpened(Direction direction)
    {
        var tag = DirectionTag(direction);
        _connectionsOpened.Add(1, tag);
        _connectionsActive.Add(1, tag);
    }

    internal void ConnectionClosed(Direction direction)
    {
        var tag = DirectionTag(direction);
        _connectionsClosed.Add(1, tag);
        _connectionsActive.Add(-1, tag);
    }

    internal void ConnectionRejected(Direction direction, string reason) =>
        _connectionsRejected.Add(1, DirectionTag(direction), new("reason", reason));

    internal void StreamOpened(Direction direction, string protocol)
    {
        _streamsOpened.Add(1, DirectionTag(direction), new("protocol", protocol));
        _streamsActive.Add(1, DirectionTag(direction));
    }

    internal void StreamClosed(Direction direction) => _streamsActive.Add(-1, DirectionTag(direction));

    internal void StreamRejected(string reason) => _streamsRejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsMeter) _meter.Dispose();
    }

    private static KeyValuePair<string, object?> DirectionTag(Direction direction) =>
        new("direction", direction == Direction.Inbound ? "inbound" : "outbound");
}
