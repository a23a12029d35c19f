using System.Diagnostics.Metrics;

namespace KontinuumP2P.Node.Hosting;

/// <summary>
/// An <see cref="IMeterFactory"/> for a node process without a DI container: meters it creates carry it as their
/// <see cref="Meter.Scope"/>, so an exporter (the daemon's Prometheus endpoint) reads this node's instruments and nobody
/// else's. Disposing it disposes its meters.
/// </summary>
public sealed class NodeMeterFactory : IMeterFactory
{
    private readonly Lock _gate = new();
    private readonly List<Meter> _meters = [];
    private bool _disposed;

    /// <inheritdoc />
    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var meter = new Meter(options.Name, options.Version, options.Tags, this);
            _meters.Add(meter);
            return meter;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        List<Meter> meters;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            meters = [.. _meters];
            _meters.Clear();
        }
        foreach (var meter in meters) meter.Dispose();
    }
}
