using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// The Noise HandshakeState for the XX pattern (<c>-&gt; e</c>; <c>&lt;- e, ee, s, es</c>; <c>-&gt; s, se</c>) with
/// 25519, ChaChaPoly and SHA-256. Messages are built and parsed whole (framing is the caller's job). The static key,
/// the ephemeral key and the prologue can be injected so the official transcripts run through this very code.
/// </summary>
internal sealed class XXHandshakeState : IDisposable
{
    /// <summary>The protocol name; exactly 32 bytes, so it is the initial h verbatim.</summary>
    public const string ProtocolName = "Noise_XX_25519_ChaChaPoly_SHA256";

    /// <summary>Largest Noise message (the 2-byte frame length bounds it).</summary>
    public const int MaxMessageLength = 65535;

    private const int MessageCount = 3;
    private readonly bool _initiator;
    private readonly SymmetricState _symmetric;
    private readonly X25519KeyPair _static;
    private X25519KeyPair? _ephemeral;
    private byte[]? _remoteEphemeral;
    private byte[]? _remoteStatic;
    private int _step;

    /// <summary>Starts a handshake; the static key stays owned by the caller, an injected ephemeral key by this state.</summary>
    public XXHandshakeState(bool initiator, X25519KeyPair staticKey, ReadOnlySpan<byte> prologue, X25519KeyPair? ephemeral = null)
    {
        _initiator = initiator;
        _static = staticKey;
        _ephemeral = ephemeral;
        _symmetric = new SymmetricState(Encoding.ASCII.GetBytes(ProtocolName));
        _symmetric.MixHash(prologue);
    }

    /// <summary>Whether all three messages have been processed.</summary>
    public bool IsCompleted => _step == MessageCount;

    /// <summary>Whether the next message is ours to write.</summary>
    public bool IsWriteTurn => !IsCompleted && (_step % 2 == 0) == _initiator;

    /// <summary>The remote static public key once received (after message 2 for the initiator, 3 for the responder).</summary>
    public ReadOnlySpan<byte> RemoteStaticPublicKey =>
        _remoteStatic ?? throw new InvalidOperationException("the remote static key has not been received yet");

    /// <summary>The handshake hash h.</summary>
    public ReadOnlySpan<byte> HandshakeHash => _symmetric.HandshakeHash;

    /// <summary>Builds the next handshake message carrying <paramref name="payload"/>.</summary>
    /// <exception cref="CryptographicException">A DH failed or the message would exceed 65535 bytes.</exception>
    public byte[] WriteMessage(ReadOnlySpan<byte> payload)
    {
        if (!IsWriteTurn) throw new InvalidOperationException("not our turn to write a handshake message");
        var message = new byte[MessageLength(payload.Length)];
        var offset = 0;
        switch (_step)
        {
            case 0:
                WriteEphemeral(message, ref offset);
                break;
            case 1:
                WriteEphemeral(message, ref offset);
                MixDh(_ephemeral!, _remoteEphemeral!);                       // ee
                offset += _symmetric.EncryptAndHash(_static.PublicKey, message.AsSpan(offset)); // s
                MixDh(_static, _remoteEphemeral!);                           // es (responder side)
                break;
            default:
                offset += _symmetric.EncryptAndHash(_static.PublicKey, message.AsSpan(offset)); // s
                MixDh(_static, _remoteEphemeral!);                           // se (initiator side)
                break;
        }
        offset += _symmetric.EncryptAndHash(payload, message.AsSpan(offset));
        _step++;
        return message;
    }

    /// <summary>Processes the next handshake message from the remote and returns its decrypted payload.</summary>
    /// <exception cref="CryptographicException">The message is malformed, a DH failed or authentication failed.</exception>
    public byte[] ReadMessage(ReadOnlySpan<byte> message)
    {
        if (IsCompleted || IsWriteTurn) throw new InvalidOperationException("not our turn to read a handshake message");
        if (message.Length > MaxMessageLength) throw new CryptographicException("handshake message over 65535 bytes");
        var offset = 0;
        switch (_step)
        {
            case 0:
                ReadEphemeral(message, ref offset);
                break;
            case 1:
                ReadEphemeral(message, ref offset);
                MixDh(_ephemeral!, _remoteEphemeral!);                       // ee
                ReadStatic(message, ref offset);                             // s
                MixDh(_ephemeral!, _remoteStatic!);                          // es (initiator side)
                break;
            default:
                ReadStatic(message, ref offset);                             // s
                MixDh(_ephemeral!, _remoteStatic!);                          // se (responder side)
                break;
        }
        var rest = message[offset..];
        if (_symmetric.HasKey && rest.Length < CipherState.TagSize) throw new CryptographicException("handshake message truncated");
        var payload = new byte[_symmetric.HasKey ? rest.Length - CipherState.TagSize : rest.Length];
        if (!_symmetric.TryDecryptAndHash(rest, payload, out _)) throw new CryptographicException("handshake payload failed authentication");
        _step++;
        return payload;
    }

    /// <summary>
    /// Split() after the last message: the CipherState we send with and the one we receive with (the initiator sends
    /// with k1, the responder with k2). The caller owns and disposes both.
    /// </summary>
    public (CipherState Send, CipherState Receive) Split()
    {
        if (!IsCompleted) throw new InvalidOperationException("the handshake is not complete");
        var (first, second) = _symmetric.Split();
        return _initiator ? (first, second) : (second, first);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _symmetric.Dispose();
        _ephemeral?.Dispose();
    }

    private int MessageLength(int payloadLength)
    {
        var keyed = _step > 0; // every write after message 1 happens after ee
        var length = _step switch
        {
            0 => X25519KeyPair.KeySize,
            1 => X25519KeyPair.KeySize + X25519KeyPair.KeySize + CipherState.TagSize,
            _ => X25519KeyPair.KeySize + CipherState.TagSize,
        };
        length += keyed ? payloadLength + CipherState.TagSize : payloadLength;
        if (length > MaxMessageLength) throw new CryptographicException("handshake message would exceed 65535 bytes");
        return length;
    }

    private void WriteEphemeral(Span<byte> message, ref int offset)
    {
        _ephemeral ??= X25519KeyPair.Generate();
        _ephemeral.PublicKey.CopyTo(message[offset..]);
        _symmetric.MixHash(_ephemeral.PublicKey);
        offset += X25519KeyPair.KeySize;
    }

    private void ReadEphemeral(ReadOnlySpan<byte> message, ref int offset)
    {
        if (message.Length - offset < X25519KeyPair.KeySize) throw new CryptographicException("handshake message truncated");
        _remoteEphemeral = message.Slice(offset, X25519KeyPair.KeySize).ToArray();
        _symmetric.MixHash(_remoteEphemeral);
        offset += X25519KeyPair.KeySize;
    }

    private void ReadStatic(ReadOnlySpan<byte> message, ref int offset)
    {
        var length = _symmetric.CiphertextLength(X25519KeyPair.KeySize);
        if (message.Length - offset < length) throw new CryptographicException("handshake message truncated");
        var key = new byte[X25519KeyPair.KeySize];
        if (!_symmetric.TryDecryptAndHash(message.Slice(offset, length), key, out _))
            throw new CryptographicException("remote static key failed authentication");
        _remoteStatic = key;
        offset += length;
    }

    private void MixDh(X25519KeyPair local, byte[] remotePublicKey)
    {
        using SharedSecret dh = local.Agree(remotePublicKey);
        _symmetric.MixKey(dh);
    }
}
