using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Benchmarks;

public sealed partial class MailboxBench
{
    /// <summary>The bench's mailbox node (one host, one server over a real SQLite file) and the client hosts that dial it.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly Ed25519Identity _serverIdentity;
        private readonly PeerHost _serverHost;
        private readonly List<(Ed25519Identity Identity, PeerHost Host)> _clients = [];
        private readonly int _connections;
        private int _opened;

        private Rig(Ed25519Identity serverIdentity, PeerHost serverHost, MailboxServer server, int connections)
        {
            _serverIdentity = serverIdentity;
            _serverHost = serverHost;
            Server = server;
            _connections = connections;
        }

        public MailboxServer Server { get; }

        /// <summary>The server's listen address with its peer id, for a client process.</summary>
        public Multiaddr ServerAddress => _serverHost.ListenAddresses[0].WithPeerId(_serverHost.PeerId);

        /// <summary>
        /// The server and <paramref name="connections"/> client hosts: sessions are spread round-robin over them, one
        /// connection each as separate devices would have (1: every session multiplexed on one connection).
        /// </summary>
        public static async Task<Rig> StartAsync(string database, bool syncFull, bool overlapFlush, TimeSpan checkpointInterval, int pageSize, int connections,
            Func<MailboxStoreOptions, MailboxStoreOptions> tune, CancellationToken cancellationToken)
        {
            var serverIdentity = Ed25519Identity.Generate();
            var serverHost = new PeerHost(new PeerHostOptions
            {
                Identity = serverIdentity,
                Transports = [new TcpTransport()],
                ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            });
            await serverHost.StartAsync(cancellationToken);
            var server = await MailboxServer.StartAsync(serverHost, new MailboxServerOptions
            {
                Store = tune(new MailboxStoreOptions { DatabasePath = database, SyncFull = syncFull, OverlapFlush = overlapFlush, CheckpointInterval = checkpointInterval, PageSize = pageSize, MaxMailboxBlobs = 10_000_000, MaxMailboxBytes = 64L << 30 }),
                PushesPerMinute = 100_000_000,
                RequestsPerSecond = 10_000_000,
                MaxInFlightPerSession = 256,
            }, cancellationToken: cancellationToken);
            var rig = new Rig(serverIdentity, serverHost, server, connections);
            for (var i = 0; i < connections; i++)
            {
                var identity = Ed25519Identity.Generate();
                var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
                rig._clients.Add((identity, host));
                await host.DialAsync(serverHost.ListenAddresses[0].WithPeerId(serverHost.PeerId), cancellationToken);
            }
            return rig;
        }

        public async Task<MailboxSession> OpenAsync((byte[] MailboxId, byte[] Capability, byte[] DeviceId) c, CancellationToken cancellationToken)
        {
            var host = _clients[_opened++ % _connections].Host;
            var session = await MailboxSession.ConnectAsync(host, _serverHost.PeerId, new MailboxSessionOptions { MaxInFlight = 256 }, cancellationToken);
            await session.OpenAsync(c.MailboxId, c.Capability, c.DeviceId, default, cancellationToken);
            return session;
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            foreach (var (identity, host) in _clients)
            {
                await host.DisposeAsync();
                identity.Dispose();
            }
            await _serverHost.DisposeAsync();
            _serverIdentity.Dispose();
        }
    }
}
