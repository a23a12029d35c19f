using System.Buffers.Binary;
using System.Net;
using System.Text;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Addressing;

/// <summary>One <c>/name/value</c> part of a multiaddr, holding its value in binary form.</summary>
public sealed class MultiaddrComponent : IEquatable<MultiaddrComponent>
{
    internal MultiaddrComponent(MultiaddrProtocol protocol, byte[] value)
    {
        Protocol = protocol;
        RawValue = value;
    }

    /// <summary>The protocol.</summary>
    public MultiaddrProtocol Protocol { get; }

    /// <summary>The binary value (without the length prefix of variable-size values).</summary>
    public byte[] RawValue { get; }

    /// <summary>The value as an IP address (ip4/ip6 only).</summary>
    public IPAddress AsIPAddress() => Protocol.Kind is ValueKind.IPv4 or ValueKind.IPv6
        ? new IPAddress(RawValue)
        : throw new InvalidOperationException($"/{Protocol.Name} carries no IP address");

    /// <summary>The value as a port (tcp/udp only).</summary>
    public int AsPort() => Protocol.Kind == ValueKind.Port
        ? BinaryPrimitives.ReadUInt16BigEndian(RawValue)
        : throw new InvalidOperationException($"/{Protocol.Name} carries no port");

    /// <summary>The value as a peer id (p2p only).</summary>
    public PeerId AsPeerId() => Protocol.Kind == ValueKind.PeerId
        ? PeerId.FromBytes(RawValue)
        : throw new InvalidOperationException($"/{Protocol.Name} carries no peer id");

    /// <summary>The value as text (dns*, memory, ip6zone).</summary>
    public string AsText() => Protocol.Kind == ValueKind.Text
        ? Encoding.UTF8.GetString(RawValue)
        : throw new InvalidOperationException($"/{Protocol.Name} carries no text");

    /// <summary>The text form of the value, or null when the protocol has none.</summary>
    public string? ValueText => Protocol.Kind switch
    {
        ValueKind.None => null,
        ValueKind.IPv4 or ValueKind.IPv6 => AsIPAddress().ToString(),
        ValueKind.Port => AsPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        ValueKind.PeerId => AsPeerId().ToString(),
        _ => AsText(),
    };

    /// <inheritdoc />
    public override string ToString() => ValueText is { } v ? $"/{Protocol.Name}/{v}" : $"/{Protocol.Name}";

    /// <inheritdoc />
    public bool Equals(MultiaddrComponent? other) =>
        other is not null && other.Protocol.Code == Protocol.Code && other.RawValue.AsSpan().SequenceEqual(RawValue);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is MultiaddrComponent c && Equals(c);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Protocol.Code);
        hash.AddBytes(RawValue);
        return hash.ToHashCode();
    }
}
