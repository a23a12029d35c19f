namespace KontinuumP2P.Core.Network;

/// <summary>Serves one protocol on inbound streams.</summary>
public interface IProtocolHandler
{
    /// <summary>Handles one inbound stream; the host disposes the stream when this returns.</summary>
    /// <param name="stream">The negotiated stream.</param>
    /// <param name="cancellationToken">Cancelled when the host or connection shuts down.</param>
    ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken);
}

/// <summary>A protocol handler as a delegate.</summary>
public delegate ValueTask ProtocolHandler(IP2PStream stream, CancellationToken cancellationToken);
