using Google.Protobuf;
using KontinuumP2P.Core.Addressing;

namespace KontinuumP2P.Net.Protocols;

/// <summary>
/// What a peer says about itself in identify or identify push. Every field is optional on the wire; null (or, for
/// lists, null) means "absent", which push treats as "unchanged".
/// </summary>
/// <param name="PublicKey">Encoded public key (libp2p <c>PublicKey</c> protobuf).</param>
/// <param name="ListenAddresses">Addresses the peer listens on, without <c>/p2p/</c>.</param>
/// <param name="Protocols">Protocols the peer serves.</param>
/// <param name="ObservedAddress">Our address as the peer sees it.</param>
/// <param name="ProtocolVersion">E.g. <c>ipfs/0.1.0</c>.</param>
/// <param name="AgentVersion">E.g. <c>kontinuum/0.1.0</c>.</param>
/// <param name="SignedPeerRecord">The peer's signed envelope, kept as received (not verified here).</param>
public sealed record IdentifyMessage(
    ReadOnlyMemory<byte>? PublicKey,
    IReadOnlyList<Multiaddr>? ListenAddresses,
    IReadOnlyList<string>? Protocols,
    Multiaddr? ObservedAddress,
    string? ProtocolVersion,
    string? AgentVersion,
    ReadOnlyMemory<byte>? SignedPeerRecord = null)
{
    /// <summary>Largest identify message accepted or sent (js uses the same bound).</summary>
    public const int MaxLength = 8192;

    /// <summary>Most messages read from one identify stream before it is abandoned (js merges up to 10).</summary>
    public const int MaxMessagesPerStream = 10;

    /// <summary>Encodes the protobuf form.</summary>
    /// <exception cref="InvalidOperationException">The result exceeds <see cref="MaxLength"/>.</exception>
    public byte[] Encode()
    {
        var wire = new Protos.Identify();
        if (PublicKey is { } key) wire.PublicKey = ByteString.CopyFrom(key.Span);
        if (ListenAddresses is not null)
            foreach (var address in ListenAddresses) wire.ListenAddrs.Add(ByteString.CopyFrom(address.WithoutPeerId().AsSpan()));
        if (Protocols is not null) wire.Protocols.AddRange(Protocols);
        if (ObservedAddress is not null) wire.ObservedAddr = ByteString.CopyFrom(ObservedAddress.AsSpan());
        if (ProtocolVersion is not null) wire.ProtocolVersion = ProtocolVersion;
        if (AgentVersion is not null) wire.AgentVersion = AgentVersion;
        if (SignedPeerRecord is { } record) wire.SignedPeerRecord = ByteString.CopyFrom(record.Span);
        var bytes = wire.ToByteArray();
        if (bytes.Length > MaxLength) throw new InvalidOperationException($"identify message of {bytes.Length} bytes exceeds {MaxLength}");
        return bytes;
    }

    /// <summary>Decodes the protobuf form; addresses that do not parse are skipped (newer peers may use unknown codes).</summary>
    /// <exception cref="InvalidDataException">Not a valid protobuf or over <see cref="MaxLength"/>.</exception>
    public static IdentifyMessage Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxLength) throw new InvalidDataException($"identify message of {bytes.Length} bytes exceeds {MaxLength}");
        Protos.Identify wire;
        try
        {
            wire = Protos.Identify.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException("malformed identify message", e);
        }
        List<Multiaddr>? listen = null;
        if (wire.ListenAddrs.Count > 0)
        {
            listen = [];
            foreach (var raw in wire.ListenAddrs)
                if (TryDecodeAddress(raw, out var address)) listen.Add(address.WithoutPeerId());
        }
        Multiaddr? observed = null;
        if (wire.HasObservedAddr && TryDecodeAddress(wire.ObservedAddr, out var seen)) observed = seen;
        return new IdentifyMessage(
            wire.HasPublicKey ? wire.PublicKey.ToByteArray() : (ReadOnlyMemory<byte>?)null,
            listen,
            wire.Protocols.Count > 0 ? [.. wire.Protocols] : null,
            observed,
            wire.HasProtocolVersion ? wire.ProtocolVersion : null,
            wire.HasAgentVersion ? wire.AgentVersion : null,
            wire.HasSignedPeerRecord ? wire.SignedPeerRecord.ToByteArray() : (ReadOnlyMemory<byte>?)null);
    }

    /// <summary>Combines a later message into this one: fields present in <paramref name="later"/> win.</summary>
    public IdentifyMessage MergeWith(IdentifyMessage later) => new(
        later.PublicKey ?? PublicKey,
        later.ListenAddresses ?? ListenAddresses,
        later.Protocols ?? Protocols,
        later.ObservedAddress ?? ObservedAddress,
        later.ProtocolVersion ?? ProtocolVersion,
        later.AgentVersion ?? AgentVersion,
        later.SignedPeerRecord ?? SignedPeerRecord);

    private static bool TryDecodeAddress(ByteString raw, out Multiaddr address)
    {
        try
        {
            address = Multiaddr.FromBytes(raw.Span);
            return true;
        }
        catch (FormatException)
        {
            address = null!;
            return false;
        }
    }
}
