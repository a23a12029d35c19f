using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Mailbox.Tests;

/// <summary>Two real hosts (Noise, Yamux, multistream) over the in-memory transport or TCP on 127.0.0.1, connected.</summary>
internal sealed class HostPair : IAsyncDisposable
{
    private readonly Ed25519Identity _serverIdentity;
    private readonly Ed25519Identity _clientIdentity;

    private HostPair(PeerHost server, PeerHost client, Ed25519Identity serverIdentity, Ed25519Identity clientIdentity)
    {
        _serverIdentity = serverIdentity;
        _clientIdentity = clientIdentity;
        Server = server;
        Client = client;
    }

    public PeerHost Server { get; }

    public PeerHost Client { get; }

    public static async Task<HostPair> StartAsync(bool tcp = false, CancellationToken cancellationToken = default)
    {
        var network = new MemoryNetwork();
        var name = Guid.NewGuid().ToString("N");
        var serverIdentity = Ed25519Identity.Generate();
        var clientIdentity = Ed25519Identity.Generate();
        PeerHost Make(Ed25519Identity identity, string listen) => new(new PeerHostOptions
        {
            Identity = identity,
            Transports = [tcp ? new TcpTransport() : new MemoryTransport(network)],
            ListenAddresses = [Multiaddr.Parse(listen)],
            InboundStreamLimits = new Dictionary<string, int> { [MailboxProtocol.ProtocolId] = 256 },
        });
        var server = Make(serverIdentity, tcp ? "/ip4/127.0.0.1/tcp/0" : $"/memory/mbx-s-{name}");
        var client = Make(clientIdentity, tcp ? "/ip4/127.0.0.1/tcp/0" : $"/memory/mbx-c-{name}");
        await server.StartAsync(cancellationToken);
        await client.StartAsync(cancellationToken);
        await client.DialAsync(server.ListenAddresses[0].WithPeerId(server.PeerId), cancellationToken);
        return new HostPair(server, client, serverIdentity, clientIdentity);
    }

    public Task<MailboxSession> SessionAsync(CancellationToken cancellationToken, MailboxSessionOptions? options = null) =>
        MailboxSession.ConnectAsync(Client, Server.PeerId, options, cancellationToken);

    public Task<IP2PStream> RawStreamAsync(CancellationToken cancellationToken) =>
        Client.NewStreamAsync(Server.PeerId, [MailboxProtocol.ProtocolId], cancellationToken).AsTask();

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        _serverIdentity.Dispose();
        _clientIdentity.Dispose();
    }
}
