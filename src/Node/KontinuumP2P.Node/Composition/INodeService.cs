namespace KontinuumP2P.Node.Composition;

/// <summary>
/// A service composed into a node (discovery, mailboxes, archive, ...). Created by a factory registered with
/// <see cref="KontinuumNodeBuilder.AddService"/> once the node's DHT exists; started after the DHT has joined and the
/// node's record and CRL work has started; stopped in reverse order before the DHT, admission and transport.
/// </summary>
public interface INodeService : IAsyncDisposable
{
    /// <summary>A short name for logs and metrics (e.g. <c>discovery</c>).</summary>
    string Name { get; }

    /// <summary>Starts the service; its background loops belong to it until it is disposed.</summary>
    Task StartAsync(CancellationToken cancellationToken);
}
