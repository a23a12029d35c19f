using System.IO.Pipelines;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Security;

/// <summary>Two hosts' Noise layers joined by a <see cref="ConnectionPair"/>.</summary>
internal sealed class NoiseTestHosts : IAsyncDisposable
{
    public NoiseTestHosts(NoiseOptions? dialerOptions = null, NoiseOptions? listenerOptions = null, Ed25519Identity? listenerIdentity = null)
    {
        DialerIdentity = Ed25519Identity.Generate();
        ListenerIdentity = listenerIdentity ?? Ed25519Identity.Generate();
        Dialer = new NoiseSecurity(DialerIdentity, dialerOptions);
        Listener = new NoiseSecurity(ListenerIdentity, listenerOptions);
        (DialerRaw, ListenerRaw) = ConnectionPair.Create();
    }

    public Ed25519Identity DialerIdentity { get; }

    public Ed25519Identity ListenerIdentity { get; }

    public NoiseSecurity Dialer { get; }

    public NoiseSecurity Listener { get; }

    public ITransportConnection DialerRaw { get; }

    public ITransportConnection ListenerRaw { get; }

    public ISecureConnection? DialerConnection { get; private set; }

    public ISecureConnection? ListenerConnection { get; private set; }

    /// <summary>Runs both handshakes concurrently.</summary>
    public async Task<(ISecureConnection Dialer, ISecureConnection Listener)> ConnectAsync(PeerId? expected, CancellationToken cancellationToken)
    {
        var inbound = Listener.SecureInboundAsync(ListenerRaw, cancellationToken).AsTask();
        var outbound = Dialer.SecureOutboundAsync(DialerRaw, expected, cancellationToken).AsTask();
        DialerConnection = await outbound;
        ListenerConnection = await inbound;
        return (DialerConnection, ListenerConnection);
    }

    /// <summary>Writes <paramref name="data"/> in pieces of the given sizes (cycled), flushing each, then completes.</summary>
    public static async Task SendAsync(PipeWriter output, byte[] data, IReadOnlyList<int> sizes, CancellationToken cancellationToken)
    {
        var offset = 0;
        for (var i = 0; offset < data.Length; i++)
        {
            var size = Math.Min(sizes[i % sizes.Count], data.Length - offset);
            await output.WriteAsync(data.AsMemory(offset, size), cancellationToken);
            offset += size;
        }
        await output.CompleteAsync();
    }

    /// <summary>Reads until the input completes; fails if more than <paramref name="limit"/> bytes arrive.</summary>
    public static async Task<byte[]> ReceiveAllAsync(PipeReader input, int limit, CancellationToken cancellationToken)
    {
        var received = new byte[limit];
        var count = 0;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (count + buffer.Length > limit) throw new InvalidDataException($"more than {limit} bytes received");
            foreach (var segment in buffer)
            {
                segment.Span.CopyTo(received.AsSpan(count));
                count += segment.Length;
            }
            input.AdvanceTo(buffer.End);
            if (result.IsCompleted) break;
        }
        return received[..count];
    }

    public async ValueTask DisposeAsync()
    {
        if (DialerConnection is not null) await DialerConnection.DisposeAsync();
        if (ListenerConnection is not null) await ListenerConnection.DisposeAsync();
        await DialerRaw.DisposeAsync();
        await ListenerRaw.DisposeAsync();
        Dialer.Dispose();
        Listener.Dispose();
        DialerIdentity.Dispose();
        ListenerIdentity.Dispose();
    }
}
