using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>
/// A host stand-in for bootstrap tests: a dial is a real TCP connect to the address (no upgrade), the connection lives
/// until the remote closes it, then <see cref="PeerDisconnected"/> fires. Everything else is unsupported.
/// </summary>
internal sealed class TcpTestHost(PeerId self, TimeProvider time) : IPeerHost
{
    private readonly Lock _gate = new();
    private readonly List<TestConnection> _connections = [];
    private readonly List<Task> _watchers = [];
    private readonly CancellationTokenSource _stopping = new();

    public PeerId PeerId => self;
    public ReadOnlyMemory<byte> PublicKey => ReadOnlyMemory<byte>.Empty;
    public IReadOnlyList<Multiaddr> ListenAddresses => [];
    public IPeerStore PeerStore => throw new NotSupportedException();
    public IReadOnlyCollection<string> Protocols => [];
    public TimeProvider TimeProvider => time;
    public int Dials { get; private set; }

    public IReadOnlyCollection<IConnection> Connections
    {
        get
        {
            lock (_gate) return [.. _connections];
        }
    }

    public event EventHandler<PeerEventArgs>? PeerConnected;
    public event EventHandler<PeerEventArgs>? PeerDisconnected;
    public event EventHandler<PeerEventArgs>? PeerIdentified
    {
        add { }
        remove { }
    }

    public async ValueTask<IConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        lock (_gate) Dials++;
        var peer = address.PeerId ?? throw new ArgumentException("needs /p2p/");
        var endPoint = address.ToTcpEndPoint() ?? throw new ArgumentException("needs ip/tcp");
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var connection = new TestConnection(peer, address.WithoutPeerId(), time.GetUtcNow());
        lock (_gate)
        {
            _connections.Add(connection);
            _watchers.Add(WatchAsync(socket, connection, _stopping.Token));
        }
        PeerConnected?.Invoke(this, new PeerEventArgs(peer, connection));
        return connection;
    }

    /// <summary>Waits until the remote closes, then drops the connection and raises the event.</summary>
    private async Task WatchAsync(Socket socket, TestConnection connection, CancellationToken cancellationToken)
    {
        using (socket)
        {
            var buffer = new byte[16];
            try
            {
                while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
                {
                    // the test server never sends; keep reading until EOF
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // closed either way
            }
        }
        connection.IsClosed = true;
        lock (_gate) _connections.Remove(connection);
        if (!cancellationToken.IsCancellationRequested) PeerDisconnected?.Invoke(this, new PeerEventArgs(connection.RemotePeer, connection));
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        Task[] watchers;
        lock (_gate) watchers = [.. _watchers];
        await Task.WhenAll(watchers);
        _stopping.Dispose();
    }

    public ValueTask ListenAsync(IEnumerable<Multiaddr> addresses, CancellationToken cancellationToken) => throw new NotSupportedException();
    public ValueTask<IConnection> ConnectAsync(PeerId peer, CancellationToken cancellationToken) => throw new NotSupportedException();
    public ValueTask<IP2PStream> NewStreamAsync(PeerId peer, IReadOnlyList<string> protocols, CancellationToken cancellationToken) =>
        throw new NotSupportedException();
    public void SetHandler(string protocol, IProtocolHandler handler) => throw new NotSupportedException();
    public void RemoveHandler(string protocol) => throw new NotSupportedException();
    public ValueTask DisconnectAsync(PeerId peer, CancellationToken cancellationToken) => throw new NotSupportedException();

    private sealed class TestConnection(PeerId peer, Multiaddr remote, DateTimeOffset opened) : IConnection
    {
        public string Id { get; } = Guid.NewGuid().ToString("N");
        public PeerId RemotePeer => peer;
        public ReadOnlyMemory<byte> RemotePublicKey => ReadOnlyMemory<byte>.Empty;
        public Multiaddr RemoteAddress => remote;
        public Multiaddr LocalAddress => remote;
        public Direction Direction => Direction.Outbound;
        public DateTimeOffset Opened => opened;
        public bool IsClosed { get; set; }
        public ValueTask<IP2PStream> NewStreamAsync(IReadOnlyList<string> protocols, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
        public ValueTask CloseAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
