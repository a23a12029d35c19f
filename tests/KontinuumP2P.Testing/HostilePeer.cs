using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Negotiation;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Testing;

/// <summary>One Yamux frame as read off the wire.</summary>
/// <param name="Type">0 data, 1 window update, 2 ping, 3 go away.</param>
/// <param name="Flags">1 SYN, 2 ACK, 4 FIN, 8 RST.</param>
/// <param name="StreamId">The stream id.</param>
/// <param name="Length">Payload length (data) or the value (window delta, ping opaque, go-away code).</param>
/// <param name="Payload">The payload of a data frame.</param>
public sealed record RawFrame(byte Type, ushort Flags, uint StreamId, uint Length, byte[] Payload);

/// <summary>
/// A scripted hostile peer: a real TCP connection and a real Noise handshake (so the host accepts it), then exactly the
/// Yamux bytes a test writes (malformed, oversized, out of order, or never). Nothing is validated on our side.
/// </summary>
public sealed class HostilePeer : IAsyncDisposable
{
    /// <summary>Yamux frame types and flags, for readability in tests.</summary>
    public const byte Data = 0, WindowUpdate = 1, Ping = 2, GoAway = 3;

    /// <summary>Yamux flags.</summary>
    public const ushort Syn = 1, Ack = 2, Fin = 4, Rst = 8;

    private readonly Ed25519Identity _identity;
    private readonly NoiseSecurity _noise;
    private readonly ISecureConnection _secure;

    private HostilePeer(Ed25519Identity identity, NoiseSecurity noise, ISecureConnection secure)
    {
        _identity = identity;
        _noise = noise;
        _secure = secure;
    }

    /// <summary>Our (fresh) peer id.</summary>
    public PeerId PeerId => _identity.PeerId;

    /// <summary>Dials <paramref name="address"/> (ending in <c>/p2p/</c>), completes Noise and agrees on Yamux; no Yamux byte is sent.</summary>
    public static async Task<HostilePeer> ConnectAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        var identity = Ed25519Identity.Generate();
        var noise = new NoiseSecurity(identity);
        var raw = await new TcpTransport().DialAsync(address, cancellationToken).ConfigureAwait(false);
        await MultistreamSelect.SelectAsync(raw, [NoiseSecurity.ProtocolId], cancellationToken).ConfigureAwait(false);
        var secure = await noise.SecureOutboundAsync(raw, address.PeerId, cancellationToken).ConfigureAwait(false);
        if (secure.NegotiatedMuxer is null) await MultistreamSelect.SelectAsync(secure, ["/yamux/1.0.0"], cancellationToken).ConfigureAwait(false);
        return new HostilePeer(identity, noise, secure);
    }

    /// <summary>Writes bytes as they are (inside Noise) and flushes.</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _secure.Output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes one Yamux frame; <paramref name="length"/> may disagree with the payload on purpose.</summary>
    public Task SendFrameAsync(byte type, ushort flags, uint streamId, uint length, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var bytes = new byte[12 + payload.Length];
        Header(bytes, type, flags, streamId, length);
        payload.Span.CopyTo(bytes.AsSpan(12));
        return SendRawAsync(bytes, cancellationToken);
    }

    /// <summary>Encodes a Yamux header into the first 12 bytes of <paramref name="destination"/>.</summary>
    public static void Header(Span<byte> destination, byte type, ushort flags, uint streamId, uint length)
    {
        destination[0] = 0;
        destination[1] = type;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], streamId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], length);
    }

    /// <summary>Reads the next frame; null when the host closed the connection.</summary>
    public async Task<RawFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _secure.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                return null;
            }
            var buffer = result.Buffer;
            if (buffer.Length >= 12)
            {
                var header = new byte[12];
                buffer.Slice(0, 12).CopyTo(header);
                var type = header[1];
                var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
                var payloadLength = type == Data ? length : 0;
                if (buffer.Length >= 12 + payloadLength)
                {
                    var payload = buffer.Slice(12, payloadLength).ToArray();
                    _secure.Input.AdvanceTo(buffer.GetPosition(12 + payloadLength));
                    return new RawFrame(type, BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2)),
                        BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)), length, payload);
                }
            }
            _secure.Input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled) return null;
        }
    }

    /// <summary>Reads frames until one matches; null when the connection ended first.</summary>
    public async Task<RawFrame?> ReadUntilAsync(Func<RawFrame, bool> match, CancellationToken cancellationToken)
    {
        while (await ReadFrameAsync(cancellationToken).ConfigureAwait(false) is { } frame)
            if (match(frame)) return frame;
        return null;
    }

    /// <summary>Sends a ping and waits for its answer, skipping other frames: true when the session still answers.</summary>
    public async Task<bool> PingAsync(uint opaque, CancellationToken cancellationToken)
    {
        await SendFrameAsync(Ping, Syn, 0, opaque, default, cancellationToken).ConfigureAwait(false);
        return await ReadUntilAsync(f => f.Type == Ping && (f.Flags & Ack) != 0 && f.Length == opaque, cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _secure.Abort();
        try
        {
            await _secure.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Disposing an aborted connection reports the abort again; the hostile peer is done either way.
        }
        _noise.Dispose();
        _identity.Dispose();
    }
}
