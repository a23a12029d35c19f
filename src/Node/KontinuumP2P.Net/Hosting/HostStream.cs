using System.IO.Pipelines;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Resources;
using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Hosting;

/// <summary>A muxed stream after protocol negotiation; bytes left over from negotiation are still in its input.</summary>
internal sealed class HostStream(IMuxedStream inner, string protocol, HostConnection connection, Direction direction, ResourceScope? resources = null) : IP2PStream
{
    private int _disposed;

    public PipeReader Input => inner.Input;
    public PipeWriter Output => inner.Output;
    public string Protocol { get; } = protocol;
    public IConnection Connection => connection;
    public Direction Direction { get; } = direction;
    public ResourceScope? Resources { get; } = resources;

    public void Reset() => inner.Reset();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            await inner.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            Resources?.Dispose();
            connection.OnStreamClosed(this);
        }
    }
}
