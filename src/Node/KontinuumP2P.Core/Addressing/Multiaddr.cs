using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Addressing;

/// <summary>An immutable multiaddr: a sequence of self-describing address components (binary and text forms).</summary>
public sealed class Multiaddr : IEquatable<Multiaddr>
{
    /// <summary>Longest binary multiaddr accepted when decoding.</summary>
    public const int MaxBinaryLength = 1024;
    /// <summary>Longest DNS or text value accepted.</summary>
    public const int MaxTextValueLength = 255;

    private readonly MultiaddrComponent[] _components;
    private byte[]? _bytes;
    private string? _text;

    private Multiaddr(MultiaddrComponent[] components) => _components = components;

    /// <summary>The components in order.</summary>
    public IReadOnlyList<MultiaddrComponent> Components => _components;

    /// <summary>True when there are no components.</summary>
    public bool IsEmpty => _components.Length == 0;

    /// <summary>Parses the text form, e.g. <c>/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…</c>.</summary>
    /// <exception cref="FormatException">Unknown protocol names or malformed values; the message names the part.</exception>
    public static Multiaddr Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0 || text[0] != '/') throw new FormatException($"multiaddr '{text}' must start with '/'");
        var parts = text.TrimEnd('/').Split('/');
        var components = new List<MultiaddrComponent>();
        for (var i = 1; i < parts.Length; i++)
        {
            var protocol = MultiaddrProtocol.FromName(parts[i])
                ?? throw new FormatException($"unknown multiaddr protocol '/{parts[i]}' in '{text}'");
            if (protocol.Kind == ValueKind.None)
            {
                components.Add(new MultiaddrComponent(protocol, []));
                continue;
            }
            if (++i >= parts.Length || parts[i].Length == 0)
                throw new FormatException($"'/{protocol.Name}' needs a value in '{text}'");
            components.Add(new MultiaddrComponent(protocol, ParseValue(protocol, parts[i], text)));
        }
        return new Multiaddr([.. components]);
    }

    /// <summary>Tries to parse text; false when it is not a valid multiaddr.</summary>
    public static bool TryParse(string? text, out Multiaddr? address)
    {
        address = null;
        if (text is null) return false;
        try
        {
            address = Parse(text);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Decodes the binary form.</summary>
    /// <exception cref="FormatException">Unknown codes, truncated values, or over <see cref="MaxBinaryLength"/> bytes.</exception>
    public static Multiaddr FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxBinaryLength) throw new FormatException($"multiaddr longer than {MaxBinaryLength} bytes");
        var components = new List<MultiaddrComponent>();
        var i = 0;
        while (i < bytes.Length)
        {
            var code = Varint.Read(bytes[i..], out var n);
            i += n;
            var protocol = (code <= int.MaxValue ? MultiaddrProtocol.FromCode((int)code) : null)
                ?? throw new FormatException($"unknown multiaddr protocol code 0x{code:x}");
            int size = protocol.Kind switch
            {
                ValueKind.None => 0,
                ValueKind.IPv4 => 4,
                ValueKind.IPv6 => 16,
                ValueKind.Port => 2,
                _ => ReadLength(bytes, ref i, protocol),
            };
            if (bytes.Length - i < size) throw new FormatException($"truncated value for /{protocol.Name}");
            var value = bytes.Slice(i, size).ToArray();
            if (protocol.Kind == ValueKind.PeerId) PeerId.FromBytes(value);
            if (protocol.Kind == ValueKind.Text) ValidateText(protocol, Encoding.UTF8.GetString(value));
            components.Add(new MultiaddrComponent(protocol, value));
            i += size;
        }
        return new Multiaddr([.. components]);
    }

    /// <summary>Builds the address of an IP endpoint over TCP.</summary>
    public static Multiaddr FromTcpEndPoint(IPEndPoint endPoint)
    {
        var ip = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        var ipProtocol = ip.AddressFamily == AddressFamily.InterNetworkV6 ? MultiaddrProtocol.Ip6 : MultiaddrProtocol.Ip4;
        var port = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(port, (ushort)endPoint.Port);
        return new Multiaddr([new(ipProtocol, ip.GetAddressBytes()), new(MultiaddrProtocol.Tcp, port)]);
    }

    /// <summary>The binary form.</summary>
    public byte[] ToBytes() => (byte[])GetBytes().Clone();

    /// <summary>The binary form without copying; callers must not modify it.</summary>
    public ReadOnlySpan<byte> AsSpan() => GetBytes();

    /// <summary>The first component of <paramref name="protocol"/>, or null.</summary>
    public MultiaddrComponent? Find(MultiaddrProtocol protocol) => Array.Find(_components, c => c.Protocol.Code == protocol.Code);

    /// <summary>The peer id of the last <c>/p2p/</c> component, or null.</summary>
    public PeerId? PeerId => Array.FindLast(_components, c => c.Protocol.Code == MultiaddrProtocol.P2p.Code)?.AsPeerId();

    /// <summary>This address followed by <paramref name="other"/>.</summary>
    public Multiaddr Encapsulate(Multiaddr other) => new([.. _components, .. other._components]);

    /// <summary>This address followed by <c>/p2p/<paramref name="peer"/></c>.</summary>
    public Multiaddr WithPeerId(PeerId peer) =>
        new([.. WithoutPeerId()._components, new MultiaddrComponent(MultiaddrProtocol.P2p, peer.ToByteArray())]);

    /// <summary>This address without a trailing <c>/p2p/…</c> component.</summary>
    public Multiaddr WithoutPeerId() =>
        _components.Length > 0 && _components[^1].Protocol.Code == MultiaddrProtocol.P2p.Code ? new(_components[..^1]) : this;

    /// <summary>The IP endpoint of an <c>/ip4|ip6/…/tcp/…</c> address, or null for other shapes.</summary>
    public IPEndPoint? ToTcpEndPoint()
    {
        if (_components.Length < 2) return null;
        var (ip, tcp) = (_components[0], _components[1]);
        if (ip.Protocol.Kind is not (ValueKind.IPv4 or ValueKind.IPv6) || tcp.Protocol.Code != MultiaddrProtocol.Tcp.Code) return null;
        return new IPEndPoint(ip.AsIPAddress(), tcp.AsPort());
    }

    /// <summary>True when the first component is a loopback IP.</summary>
    public bool IsLoopback => _components.Length > 0 && _components[0].Protocol.Kind is ValueKind.IPv4 or ValueKind.IPv6
        && IPAddress.IsLoopback(_components[0].AsIPAddress());

    /// <inheritdoc />
    public override string ToString() => _text ??= string.Concat(_components.Select(c => c.ToString()));

    /// <inheritdoc />
    public bool Equals(Multiaddr? other) => other is not null && GetBytes().AsSpan().SequenceEqual(other.GetBytes());

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Multiaddr m && Equals(m);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(GetBytes());
        return hash.ToHashCode();
    }

    private byte[] GetBytes()
    {
        if (_bytes is not null) return _bytes;
        using var stream = new MemoryStream();
        Span<byte> varint = stackalloc byte[Varint.MaxLength];
        foreach (var c in _components)
        {
            stream.Write(varint[..Varint.Write(varint, (ulong)c.Protocol.Code)]);
            if (c.Protocol.Kind is ValueKind.Text or ValueKind.PeerId)
                stream.Write(varint[..Varint.Write(varint, (ulong)c.RawValue.Length)]);
            stream.Write(c.RawValue);
        }
        return _bytes = stream.ToArray();
    }

    private static int ReadLength(ReadOnlySpan<byte> bytes, ref int i, MultiaddrProtocol protocol)
    {
        var length = Varint.Read(bytes[i..], out var n);
        i += n;
        if (length > MaxBinaryLength) throw new FormatException($"/{protocol.Name} value too long");
        return (int)length;
    }

    private static byte[] ParseValue(MultiaddrProtocol protocol, string value, string text)
    {
        switch (protocol.Kind)
        {
            case ValueKind.IPv4:
                if (!IPAddress.TryParse(value, out var v4) || v4.AddressFamily != AddressFamily.InterNetwork || value.Count(c => c == '.') != 3)
                    throw new FormatException($"'{value}' is not an IPv4 address in '{text}'");
                return v4.GetAddressBytes();
            case ValueKind.IPv6:
                if (!IPAddress.TryParse(value, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6 || v6.ScopeId != 0)
                    throw new FormatException($"'{value}' is not an IPv6 address in '{text}'");
                return v6.GetAddressBytes();
            case ValueKind.Port:
                if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                    throw new FormatException($"'{value}' is not a port (0-65535) in '{text}'");
                var bytes = new byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(bytes, port);
                return bytes;
            case ValueKind.PeerId:
                try
                {
                    return Identity.PeerId.Parse(value).ToByteArray();
                }
                catch (FormatException e)
                {
                    throw new FormatException($"'{value}' is not a peer id in '{text}': {e.Message}", e);
                }
            default:
                ValidateText(protocol, value);
                return Encoding.UTF8.GetBytes(value);
        }
    }

    private static void ValidateText(MultiaddrProtocol protocol, string value)
    {
        if (value.Length == 0 || value.Length > MaxTextValueLength)
            throw new FormatException($"/{protocol.Name} value must have 1 to {MaxTextValueLength} characters");
        if (value.Contains('/')) throw new FormatException($"/{protocol.Name} value may not contain '/'");
    }
}
