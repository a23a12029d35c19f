using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Transports;

/// <summary>The in-process transport: addresses <c>/memory/&lt;name&gt;</c> (optionally followed by <c>/p2p/&lt;id&gt;</c>) on one <see cref="MemoryNetwork"/>.</summary>
/// <param name="network">The network shared by the hosts that should reach each other.</param>
public sealed class MemoryTransport(MemoryNetwork network) : ITransport
{
    /// <summary>The network this transport dials into.</summary>
    public MemoryNetwork Network { get; } = network ?? throw new ArgumentNullException(nameof(network));

    /// <inheritdoc />
    public bool CanDial(Multiaddr address) => NameOf(address, allowPeerId: true) is not null;

    /// <inheritdoc />
    public bool CanListen(Multiaddr address) => NameOf(address, allowPeerId: false) is not null;

    /// <inheritdoc />
    public ValueTask<ITransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var name = NameOf(address, allowPeerId: true) ?? throw new ArgumentException($"not a memory address: '{address}'", nameof(address));
        return ValueTask.FromResult(Network.Dial(name));
    }

    /// <inheritdoc />
    public ValueTask<ITransportListener> ListenAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var name = NameOf(address, allowPeerId: false) ?? throw new ArgumentException($"not a memory address: '{address}'", nameof(address));
        return ValueTask.FromResult(Network.Listen(name));
    }

    private static string? NameOf(Multiaddr address, bool allowPeerId)
    {
        var parts = address.Components;
        if (parts.Count is not (1 or 2) || parts[0].Protocol.Code != MultiaddrProtocol.Memory.Code) return null;
        if (parts.Count == 2 && !(allowPeerId && parts[1].Protocol.Code == MultiaddrProtocol.P2p.Code)) return null;
        return parts[0].AsText();
    }
}
