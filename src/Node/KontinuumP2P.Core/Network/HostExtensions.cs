namespace KontinuumP2P.Core.Network;

/// <summary>Conveniences over <see cref="IHost"/>.</summary>
public static class HostExtensions
{
    /// <summary>Serves <paramref name="protocol"/> with a delegate.</summary>
    public static void SetHandler(this IHost host, string protocol, ProtocolHandler handler)
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
