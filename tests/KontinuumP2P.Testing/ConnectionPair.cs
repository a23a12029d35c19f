using System.IO.Pipelines;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Testing;

/// <summary>Two raw connections joined back to back through in-memory pipes, for protocol tests without sockets.</summary>
public static class ConnectionPair
{
    /// <summary>Creates the pair; <paramref name="pipeOptions"/> bounds the bytes in flight each way.</summary>
    public static (ITransportConnection Dialer, ITransportConnection Listener) Create(PipeOptions? pipeOptions = null)
    {
        var options = pipeOptions ?? new PipeOptions(pauseWriterThreshold: 1 << 20, resumeWriterThreshold: 1 << 19,
            useSynchronizationContext: false);
        var toListener = new Pipe(options);
        var toDialer = new Pipe(options);
        var dialerAddress = Multiaddr.Parse("/memory/dialer");
        var listenerAddress = Multiaddr.Parse("/memory/listener");
        return (new PipeConnection(toDialer.Reader, toListener.Writer, dialerAddress, listenerAddress),
                new PipeConnection(toListener.Reader, toDialer.Writer, listenerAddress, dialerAddress));
    }

    private sealed class PipeConnection(PipeReader input, PipeWriter output, Multiaddr local, Multiaddr remote)
        : ITransportConnection
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
        public Multiaddr LocalAddress { get; } = local;
        public Multiaddr RemoteAddress { get; } = remote;

        public void Abort()
        {
            var error = new IOException("connection aborted");
            Input.Complete(error);
            Output.Complete(error);
        }

        public ValueTask DisposeAsync()
        {
            Input.Complete();
            Output.Complete();
            return ValueTask.CompletedTask;
        }
    }
}
