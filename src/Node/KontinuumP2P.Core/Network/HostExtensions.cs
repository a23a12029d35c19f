namespace KontinuumP2P.Core.Network;

/// <summary>Conveniences over <see cref="IPeerHost"/>.</summary>
public static class HostExtensions
{
    /// <summary>Serves <paramref name="protocol"/> with a delegate.</summary>
    public static void SetHandler(this IPeerHost host, string protocol, ProtocolHandler handler)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(handler);
        host.SetHandler(protocol, new DelegateProtocolHandler(handler));
    }

    private sealed class DelegateProtocolHandler(ProtocolHandler handler) : IProtocolHandler
    {
        public ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken) => handler(stream, cancellationToken);
    }
}
