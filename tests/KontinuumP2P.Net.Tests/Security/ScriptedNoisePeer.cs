using System.Buffers.Binary;
using System.IO.Pipelines;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Security.Noise;

namespace KontinuumP2P.Net.Tests.Security;

/// <summary>
/// A hand-driven Noise peer over a raw connection, built from the same handshake classes as the stack, that can
/// deviate at any step (bad payloads, garbage or truncated frames, tampered transport frames).
/// </summary>
internal sealed class ScriptedNoisePeer : IDisposable
{
    private readonly ITransportConnection _raw;
    private CipherState? _send;
    private CipherState? _receive;

    public ScriptedNoisePeer(ITransportConnection raw, bool initiator)
    {
        _raw = raw;
        State = new XXHandshakeState(initiator, StaticKey, ReadOnlySpan<byte>.Empty);
    }

    public X25519KeyPair StaticKey { get; } = X25519KeyPair.Generate();

    public XXHandshakeState State { get; }

    public CipherState Send => _send ?? throw new InvalidOperationException("handshake not finished");

    public CipherState Receive => _receive ?? throw new InvalidOperationException("handshake not finished");

    /// <summary>Our correct payload for <paramref name="identity"/>.</summary>
    public byte[] PayloadFor(Ed25519Identity identity) => NoisePayload.Encode(identity, StaticKey.PublicKey, ["/yamux/1.0.0"]);

    public async Task WriteFrameAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) =>
        await NoiseFraming.WriteMessageAsync(_raw.Output, message, cancellationToken);

    public async Task WriteRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _raw.Output.WriteAsync(bytes, cancellationToken);
    }

    public async Task<byte[]> ReadFrameAsync(CancellationToken cancellationToken) =>
        await NoiseFraming.ReadMessageAsync(_raw.Input, cancellationToken);

    /// <summary>Runs a correct initiator handshake with <paramref name="payload"/> in message 3.</summary>
    public async Task RunInitiatorAsync(byte[] payload, CancellationToken cancellationToken)
    {
        await WriteFrameAsync(State.WriteMessage(ReadOnlySpan<byte>.Empty), cancellationToken);
        State.ReadMessage(await ReadFrameAsync(cancellationToken));
        await WriteFrameAsync(State.WriteMessage(payload), cancellationToken);
        (_send, _receive) = State.Split();
    }

    /// <summary>Runs a responder handshake sending <paramref name="payload"/> in message 2, then waits for message 3.</summary>
    public async Task<byte[]> RunResponderAsync(byte[] payload, CancellationToken cancellationToken)
    {
        State.ReadMessage(await ReadFrameAsync(cancellationToken));
        await WriteFrameAsync(State.WriteMessage(payload), cancellationToken);
        var remotePayload = State.ReadMessage(await ReadFrameAsync(cancellationToken));
        (_send, _receive) = State.Split();
        return remotePayload;
    }

    /// <summary>A transport frame (length prefix included) sealing <paramref name="plaintext"/>.</summary>
    public byte[] SealFrame(ReadOnlySpan<byte> plaintext)
    {
        var frame = new byte[2 + plaintext.Length + CipherState.TagSize];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(plaintext.Length + CipherState.TagSize));
        Send.EncryptWithAd(ReadOnlySpan<byte>.Empty, plaintext, frame.AsSpan(2));
        return frame;
    }

    /// <summary>Waits until the raw input ends; true when it ended with an error (the other side aborted).</summary>
    public async Task<bool> InputEndsWithErrorAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var result = await _raw.Input.ReadAsync(cancellationToken);
                _raw.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted) return false;
            }
        }
        catch (IOException)
        {
            return true;
        }
    }

    public PipeWriter RawOutput => _raw.Output;

    public void Dispose()
    {
        State.Dispose();
        StaticKey.Dispose();
        _send?.Dispose();
        _receive?.Dispose();
    }
}
