using System.Text;
using Google.Protobuf;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Protos;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>What a verified libp2p Noise handshake payload says about the remote.</summary>
/// <param name="PeerId">The peer id derived from the identity key.</param>
/// <param name="EncodedPublicKey">The identity key in the libp2p <c>PublicKey</c> protobuf form.</param>
/// <param name="StreamMuxers">The muxers the remote advertised (inlined muxer negotiation), possibly empty.</param>
internal sealed record NoiseRemoteIdentity(PeerId PeerId, byte[] EncodedPublicKey, IReadOnlyList<string> StreamMuxers);

/// <summary>
/// The libp2p handshake payload: identity key, its signature over <c>"noise-libp2p-static-key:" ‖ static key</c>, and the
/// stream muxers extension. Only Ed25519 identities are accepted (the only key type this library signs with).
/// </summary>
internal static class NoisePayload
{
    /// <summary>The signing prefix, 24 ASCII bytes.</summary>
    public const string SignaturePrefix = "noise-libp2p-static-key:";

    /// <summary>Cap on advertised muxers we read (js sends one).</summary>
    public const int MaxStreamMuxers = 32;

    /// <summary>Builds our payload for the X25519 static key <paramref name="staticPublicKey"/>.</summary>
    public static byte[] Encode(Ed25519Identity identity, ReadOnlySpan<byte> staticPublicKey, IReadOnlyList<string> streamMuxers)
    {
        var payload = new NoiseHandshakePayload
        {
            IdentityKey = ByteString.CopyFrom(identity.EncodedPublicKey),
            IdentitySig = ByteString.CopyFrom(identity.Sign(SignedMessage(staticPublicKey))),
        };
        if (streamMuxers.Count > 0)
        {
            payload.Extensions = new NoiseExtensions();
            payload.Extensions.StreamMuxers.AddRange(streamMuxers);
        }
        return payload.ToByteArray();
    }

    /// <summary>
    /// Parses and verifies a remote payload against the static key received in the handshake.
    /// </summary>
    /// <exception cref="HandshakeException">Malformed payload, unsupported key type or bad signature.</exception>
    public static NoiseRemoteIdentity Verify(ReadOnlySpan<byte> payloadBytes, ReadOnlySpan<byte> remoteStaticKey)
    {
        NoiseHandshakePayload payload;
        try
        {
            payload = NoiseHandshakePayload.Parser.ParseFrom(payloadBytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new HandshakeException("malformed Noise handshake payload", ex);
        }
        var encodedKey = payload.IdentityKey.ToByteArray();
        KeyType type;
        try
        {
            (type, _) = PublicKeyEncoding.Decode(encodedKey);
        }
        catch (FormatException ex)
        {
            throw new HandshakeException("malformed identity key in Noise payload", ex);
        }
        if (type != KeyType.Ed25519) throw new HandshakeException($"identity key type {type} is not supported (Ed25519 only)");
        if (!Ed25519Identity.VerifyEncoded(encodedKey, SignedMessage(remoteStaticKey), payload.IdentitySig.Span))
            throw new HandshakeException("identity signature over the Noise static key does not verify");
        string[] muxers = payload.Extensions is { } extensions ? [.. extensions.StreamMuxers] : [];
        if (muxers.Length > MaxStreamMuxers) throw new HandshakeException($"remote advertised more than {MaxStreamMuxers} muxers");
        return new NoiseRemoteIdentity(PeerId.FromEncodedPublicKey(encodedKey), encodedKey, muxers);
    }

    /// <summary>"noise-libp2p-static-key:" ‖ static public key.</summary>
    public static byte[] SignedMessage(ReadOnlySpan<byte> staticPublicKey)
    {
        var message = new byte[SignaturePrefix.Length + staticPublicKey.Length];
        Encoding.ASCII.GetBytes(SignaturePrefix, message);
        staticPublicKey.CopyTo(message.AsSpan(SignaturePrefix.Length));
        return message;
    }

    /// <summary>
    /// Inlined muxer negotiation exactly as js does it in both roles: look only at the remote's list; empty → null (a
    /// multistream round follows); otherwise its first entry we support; none → failure.
    /// </summary>
    /// <exception cref="HandshakeException">The remote offered muxers and none is ours.</exception>
    public static string? SelectMuxer(IReadOnlyList<string> remoteMuxers, IReadOnlyList<string> ourMuxers)
    {
        if (remoteMuxers.Count == 0) return null;
        foreach (var candidate in remoteMuxers)
        {
            foreach (var ours in ourMuxers)
                if (string.Equals(candidate, ours, StringComparison.Ordinal)) return ours;
        }
        throw new HandshakeException("no common stream muxer in the Noise handshake");
    }
}
