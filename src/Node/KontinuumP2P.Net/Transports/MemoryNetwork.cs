using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Transports;

/// <summary>
/// A shared in-process network of <c>/memory/&lt;name&gt;</c> listeners. Hosts of one test or simulation share one
/// instance; there is no process-wide registry. Subclasses override <see cref="CreateLink"/> to shape links
/// (latency, loss, bandwidth).
/// </summary>
public class MemoryNetwork
{
    private readonly ConcurrentDictionary<string, MemoryListener> _listeners = new(StringComparer.Ordinal);
    private long _nextDialer;

    /// <summary>Bytes buffered per direction of a link before the writer waits.</summary>
    public int MaxBufferedBytes { get; init; } = 1 << 20;

    /// <summary>Inbound connections queued per listener before further dials are refused.</summary>
    public int AcceptBacklog { get; init; } = 128;

    /// <summary>Names currently listening.</summary>
    public IReadOnlyCollection<string> ListenerNames => [.. _listeners.Keys];

    /// <summary>
    /// Creates the two ends of a new link. The default joins two pipes back to back; a simulator replaces this to add
    /// latency, loss or bandwidth limits between the ends.
    /// </summary>
    /// <param name="dialerAddress">The dialer's address of this link.</param>
    /// <param name="listenerAddress">The listener's address.</param>
    protected virtual (ITransportConnection Dialer, ITransportConnection Listener) CreateLink(
        Multiaddr dialerAddress, Multiaddr listenerAddress)
    {
        var options = new PipeOptions(pauseWriterThreshold: MaxBufferedBytes, resumeWriterThreshold: MaxBufferedBytes / 2,
            useSynchronizationContext: false);
        var toListener = new Pipe(options);
        var toDialer = new Pipe(options);
        return (new MemoryConnection(toDialer.Reader, toListener.Writer, dialerAddress, listenerAddress),
                new MemoryConnection(toListener.Reader, toDialer.Writer, listenerAddress, dialerAddress));
    }

    internal ITransportListener Listen(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("a memory address needs a name", nameof(name));
        var listener = new MemoryListener(this, name, AcceptBacklog);
        if (!_listeners.TryAdd(name, listener)) throw new IOException($"/memory/{name} is already in use");
        return listener;
    }

    internal ITransportConnection Dial(string name)
    {
        if (!_listeners.TryGetValue(name, out var listener)) throw new IOException($"connection refused: nobody listens on /memory/{name}");
        var dialerAddress = Multiaddr.Parse($"/memory/dialer-{Interlocked.Increment(ref _nextDialer)}");
        var (dialer, accepted) = CreateLink(dialerAddress, listener.ListenAddress);
        if (!listener.Offer(accepted))
        {
            dialer.Abort();
            accepted.Abort();
            throw new IOException($"connection refused: /memory/{name} has too many pending connections");
        }
        return dialer;
    }

    private void Remove(MemoryListener listener) => _listeners.TryRemove(new(listener.Name, listener));

    private sealed class MemoryListener(MemoryNetwork network, string name, int backlog) : ITransportListener
    {
        private readonly Channel<ITransportConnection> _pending = Channel.CreateBounded<ITransportConnection>(backlog);

        public string Name { get; } = name;
        public Multiaddr ListenAddress { get; } = Multiaddr.Parse($"/memory/{name}");

        public bool Offer(ITransportConnection connection) => _pending.Writer.TryWrite(connection);

        public async ValueTask<ITransportConnection> AcceptAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await _pending.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException e)
            {
                throw new OperationCanceledException("the listener was disposed", e, cancellationToken);
            }
        }

        public ValueTask DisposeAsync()
        {
            network.Remove(this);
            _pending.Writer.TryComplete();
            while (_pending.Reader.TryRead(out var orphan)) orphan.Abort();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>One end of an in-memory link: reads one pipe, writes the other.</summary>
/// <param name="input">The pipe end this side reads.</param>
/// <param name="output">The pipe end this side writes.</param>
/// <param name="localAddress">This side's address.</param>
/// <param name="remoteAddress">The other side's address.</param>
public sealed class MemoryConnection(PipeReader input, PipeWriter output, Multiaddr localAddress, Multiaddr remoteAddress)
    : ITransportConnection
{
    /// <inheritdoc />
    public PipeReader Input { get; } = input;

    /// <inheritdoc />
    public PipeWriter Output { get; } = output;

    /// <inheritdoc />
    public Multiaddr LocalAddress { get; } = localAddress;

    /// <inheritdoc />
    public Multiaddr RemoteAddress { get; } = remoteAddress;

    /// <inheritdoc />
    public void Abort()
    {
        var error = new IOException("connection aborted");
        Input.Complete(error);
        Output.Complete(error);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Input.Complete();
        Output.Complete();
        return ValueTask.CompletedTask;
    }
}
