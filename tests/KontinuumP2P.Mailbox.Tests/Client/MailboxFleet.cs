using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Mailbox.Tests.Client;

/// <summary>
/// Real mailbox servers for client tests: each a libp2p host on TCP 127.0.0.1 with a <see cref="MailboxServer"/> on its
/// own SQLite file, certified by a throwaway Tier 0 anchor (with the <c>mailbox</c> capability unless told otherwise).
/// A server can be stopped (host and sessions gone) and started again on the same port, key and database, or reset
/// (database deleted: a new epoch).
/// </summary>
internal sealed class MailboxFleet : IAsyncDisposable
{
    private readonly Ed25519Identity _anchor = Ed25519Identity.Generate();
    private readonly List<Ed25519Identity> _clientIdentities = [];
    private readonly List<PeerHost> _clientHosts = [];
    private ulong _serial = 1;

    private MailboxFleet(string directory)
    {
        Directory = directory;
        var set = new AnchorSet(1, [new Anchor(_anchor.PublicKey, "test-anchor")], certThreshold: 1, crlThreshold: 1, configThreshold: 1);
        Anchors = TrustAnchors.Create(set, TimeProvider.System);
    }

    public string Directory { get; }

    public TrustAnchors Anchors { get; }

    /// <summary>The anchor's public key (child processes build their own trust from it).</summary>
    public byte[] AnchorPublicKey => _anchor.PublicKey;

    public List<Member> Servers { get; } = [];

    public IReadOnlyList<string> Slots => [.. Servers.Select(s => s.Slot)];

    public static async Task<MailboxFleet> StartAsync(int servers, Func<int, IReadOnlyList<string>>? capabilities = null,
        Func<MailboxServerOptions, MailboxServerOptions>? configure = null)
    {
        var fleet = new MailboxFleet(Path.Combine(Path.GetTempPath(), "kp-mbx-fleet-" + Guid.NewGuid().ToString("N")));
        System.IO.Directory.CreateDirectory(fleet.Directory);
        for (var i = 0; i < servers; i++)
        {
            var identity = Ed25519Identity.Generate();
            var member = new Member(fleet, $"mbx-{(char)('a' + i)}", identity, fleet.Issue(identity, capabilities?.Invoke(i) ?? ["dht", "mailbox"], $"provider-{i}"),
                Path.Combine(fleet.Directory, $"server-{i}.db"), configure);
            await member.StartAsync();
            fleet.Servers.Add(member);
        }
        return fleet;
    }

    public Certificate Issue(Ed25519Identity node, IReadOnlyList<string> capabilities, string provider)
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var draft = Certificate.Create(new CertificateBody
        {
            NodeId = node.PeerId.ToByteArray(),
            NodePublicKey = node.PublicKey,
            Tier = 2,
            Tenancy = Tenancy.Multi,
            Operator = "org",
            Capabilities = capabilities,
            Provider = provider,
            GeoZone = "local",
            IssuedAt = now.AddMinutes(-1),
            ValidUntil = now.AddDays(1),
            Serial = _serial++,
        });
        return draft.WithSignatures([PartialSignature.Create(draft.Document, _anchor).Signature]);
    }

    /// <summary>A resolver that knows each server's current address and certificate, by slot name.</summary>
    public IMailboxResolver Resolver => new PeerMailboxResolver(
        (peer, _) => Task.FromResult(Servers.FirstOrDefault(s => s.PeerId.Equals(peer)) is { } s
            ? new MailboxEndpoint(s.PeerId, [s.Address], s.Certificate)
            : null),
        Servers.ToDictionary(s => s.Slot, s => s.PeerId));

    public IMailboxVerifier Verifier => new CertificateMailboxVerifier(Anchors);

    /// <summary>A fresh client host (disposed with the fleet).</summary>
    public async Task<PeerHost> ClientHostAsync()
    {
        var identity = Ed25519Identity.Generate();
        // A 4 MiB receive window: a pull page (up to 4 MiB) streams without waiting for window updates.
        var host = new PeerHost(new PeerHostOptions
        {
            Identity = identity,
            Transports = [new TcpTransport()],
            YamuxOptions = new KontinuumP2P.Net.Muxing.YamuxOptions { InitialStreamWindow = 4 << 20 },
        });
        await host.StartAsync(CancellationToken.None);
        _clientIdentities.Add(identity);
        _clientHosts.Add(host);
        return host;
    }

    /// <summary>A device: its own host, group directory and client.</summary>
    public async Task<GroupClient> DeviceAsync(GroupStore store, GroupClientOptions? options = null) =>
        new(store, await ClientHostAsync(), Resolver, Verifier, options ?? FastOptions);

    public static GroupClientOptions FastOptions => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PushTimeout = TimeSpan.FromSeconds(10),
        WatchPollInterval = TimeSpan.FromMilliseconds(500),
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _clientHosts) await host.DisposeAsync();
        foreach (var server in Servers) await server.StopAsync();
        foreach (var identity in _clientIdentities) identity.Dispose();
        foreach (var server in Servers) server.Identity.Dispose();
        _anchor.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the temp folder is cleaned by the OS.
        }
    }

    internal sealed class Member(MailboxFleet fleet, string slot, Ed25519Identity identity, Certificate certificate, string database,
        Func<MailboxServerOptions, MailboxServerOptions>? configure)
    {
        private PeerHost? _host;

        public string Slot { get; } = slot;

        public Ed25519Identity Identity { get; } = identity;

        public Certificate Certificate { get; set; } = certificate;

        public string Database { get; } = database;

        public PeerId PeerId => Identity.PeerId;

        public Multiaddr Address { get; private set; } = Multiaddr.Parse("/ip4/127.0.0.1/tcp/0");

        public MailboxServer? Server { get; private set; }

        public bool Running => Server is not null;

        /// <summary>The server's host while it runs (other protocols, e.g. health, can share it).</summary>
        public PeerHost? Host => _host;

        public async Task StartAsync()
        {
            var host = new PeerHost(new PeerHostOptions
            {
                Identity = Identity,
                Transports = [new TcpTransport()],
                ListenAddresses = [Address],
                InboundStreamLimits = new Dictionary<string, int> { [MailboxProtocol.ProtocolId] = 256 },
            });
            await host.StartAsync(CancellationToken.None);
            Address = host.ListenAddresses[0];
            var options = new MailboxServerOptions
            {
                Store = new MailboxStoreOptions { DatabasePath = Database },
                ShutdownTimeout = TimeSpan.FromSeconds(2),
            };
            Server = await MailboxServer.StartAsync(host, configure?.Invoke(options) ?? options);
            _host = host;
        }

        /// <summary>Stops the server and its host: every session breaks.</summary>
        public async Task StopAsync()
        {
            if (Server is { } server) await server.DisposeAsync();
            if (_host is { } host) await host.DisposeAsync();
            Server = null;
            _host = null;
        }

        /// <summary>Deletes the store: the server comes back with a new epoch and no blobs.</summary>
        public async Task ResetAsync()
        {
            await StopAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in System.IO.Directory.GetFiles(Path.GetDirectoryName(Database)!, Path.GetFileName(Database) + "*")) File.Delete(file);
            await StartAsync();
        }

        public IEnumerable<string> DatabaseFiles => System.IO.Directory.GetFiles(fleet.Directory, Path.GetFileName(Database) + "*");
    }
}
