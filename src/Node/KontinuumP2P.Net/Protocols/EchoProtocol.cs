using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Protocols;

/// <summary>
/// <c>/kontinuum/echo/1.0.0</c>: the acceptor sends back every byte until the opener closes its side, then closes its
/// own. A test and diagnostics protocol; the CLI serves it outside <c>mainnet</c>.
/// </summary>
public sealed class EchoProtocol : IProtocolHandler
{
    /// <summary>The protocol id.</summary>
    public const string Id = "/kontinuum/echo/1.0.0";

    /// <inheritdoc />
    public ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return StreamEcho.RunAsync(stream, cancellationToken);
    }
}
