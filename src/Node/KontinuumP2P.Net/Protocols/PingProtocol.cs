using System.Buffers;
using System.Security.Cryptography;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Protocols;

/// <summary>
/// <c>/ipfs/ping/1.0.0</c>: the opener writes 32 random bytes and reads the same 32 back; the acceptor echoes every
/// byte until the opener closes its side (js closes right after writing, so the echo continues past the FIN).
/// </summary>
public sealed class PingProtocol : IProtocolHandler
{
    /// <summary>The protocol id.</summary>
    public const string Id = "/ipfs/ping/1.0.0";

    /// <summary>Bytes per ping.</summary>
    public const int PayloadSize = 32;

    /// <summary>How long one ping may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return StreamEcho.RunAsync(stream, cancellationToken);
    }

    /// <summary>Pings <paramref name="peer"/> <paramref name="count"/> times over one stream and returns each round trip.</summary>
    /// <exception cref="ProtocolNotSupportedException">The peer does not serve ping.</exception>
    /// <exception cref="TimeoutException">A ping took longer than <see cref="Timeout"/>.</exception>
    /// <exception cref="InvalidDataException">The peer answered other bytes.</exception>
    public static async ValueTask<IReadOnlyList<TimeSpan>> PingAsync(IPeerHost host, PeerId peer, int count, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var stream = await host.NewStreamAsync(peer, [Id], cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var rtts = new List<TimeSpan>(count);
            for (var i = 0; i < count; i++) rtts.Add(await PingOnceAsync(stream, host.TimeProvider, cancellationToken).ConfigureAwait(false));
            await stream.Output.CompleteAsync().ConfigureAwait(false);
            return rtts;
        }
    }

    /// <summary>Sends one ping on an open ping stream and returns the round-trip time.</summary>
    public static async ValueTask<TimeSpan> PingOnceAsync(IP2PStream stream, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(timeProvider);
        using var timeout = new CancellationTokenSource(Timeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var payload = new byte[PayloadSize];
        RandomNumberGenerator.Fill(payload);
        try
        {
            var started = timeProvider.GetTimestamp();
            await stream.Output.WriteAsync(payload, linked.Token).ConfigureAwait(false);
            while (true)
            {
                var result = await stream.Input.ReadAsync(linked.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                if (buffer.Length >= PayloadSize)
                {
                    var echoed = buffer.Slice(0, PayloadSize);
                    var elapsed = timeProvider.GetElapsedTime(started);
                    var same = echoed.IsSingleSegment ? echoed.FirstSpan.SequenceEqual(payload) : echoed.ToArray().AsSpan().SequenceEqual(payload);
                    stream.Input.AdvanceTo(echoed.End);
                    if (!same) throw new InvalidDataException("ping answer differs from the bytes sent");
                    return elapsed;
                }
                if (result.IsCompleted) throw new InvalidDataException("the peer closed the ping stream before answering");
                stream.Input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no ping answer within {Timeout.TotalSeconds:0} s");
        }
    }
}
