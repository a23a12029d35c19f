using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Net.Discovery.Dns;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>
/// libp2p mDNS discovery (IPv4): answers <c>_p2p._udp.local PTR</c> queries with our instance PTR and one
/// <c>dnsaddr=</c> TXT per address we listen on, queries periodically, and reports the peers others announce.
/// Multicast responses are limited to one per interface per <see cref="MdnsOptions.MinResponseInterval"/> (queries
/// arriving meanwhile are coalesced into the pending response), incoming packets to a fixed rate; malformed ones are
/// dropped and counted. Usable in-process: give it the PeerId and a view of the host's listen addresses.
/// </summary>
public sealed partial class MdnsService : IPeerDiscovery, IDiscoveryFeedback, IAsyncDisposable
{
    private const int MaxPacketsPerSecond = 200;
    private const int MaxLegacyUnicastResponsesPerSecond = 10;
    private static readonly TimeSpan LegacyUnicastTtl = TimeSpan.FromSeconds(10); // RFC 6762 §6.7

    private readonly PeerId _localPeer;
    private readonly Func<IReadOnlyList<Multiaddr>> _listenAddresses;
    private readonly MdnsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DiscoveryBroadcaster _broadcaster = new();
    private readonly MdnsPeerTable _table;
    private readonly MdnsSourceLimiter _limiter;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, ResponseSchedule> _schedules = [];
    private readonly WakeSignal _wakeResponder = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly BackgroundLoops _loops;
    private readonly IPEndPoint _group;
    private Socket? _socket;
    private IReadOnlyList<MdnsInterface> _interfaces = [];
    private long _windowStart;
    private int _packetsInWindow;
    private int _unicastInWindow;
    private int _disposed;

    /// <summary>Creates the service; call <see cref="Start"/> to open the socket.</summary>
    /// <param name="localPeer">Our PeerId (put in every advertised address).</param>
    /// <param name="listenAddresses">The host's current listen addresses, read at each response.</param>
    /// <param name="options">Settings; null for defaults.</param>
    /// <param name="timeProvider">Clock; null for the system clock.</param>
    /// <param name="loggerFactory">Logging; null for none.</param>
    /// <param name="meterFactory">Metrics; null for none (counters stay readable in <see cref="Statistics"/>).</param>
    public MdnsService(
        PeerId localPeer,
        Func<IReadOnlyList<Multiaddr>> listenAddresses,
        MdnsOptions? options = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null)
    {
        _localPeer = localPeer ?? throw new ArgumentNullException(nameof(localPeer));
        _listenAddresses = listenAddresses ?? throw new ArgumentNullException(nameof(listenAddresses));
        _options = options ?? new MdnsOptions();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<MdnsService>();
        _table = new MdnsPeerTable(_options.MaxKnownPeers, _options.MaxAcceptedTtl);
        _limiter = new MdnsSourceLimiter(_time, _options.PerSourcePacketsPerSecond, _options.PerSourceBurst, _options.MaxTrackedSources);
        _group = new IPEndPoint(_options.MulticastAddress, _options.Port);
        ServiceName = _options.ServiceName;
        PeerName = _options.PeerName ?? RandomPeerName();
        InstanceName = $"{PeerName}.{ServiceName}";
        Statistics = new MdnsStatistics(meterFactory);
        _loops = new BackgroundLoops("mdns", _time, _logger, meterFactory);
    }

    /// <summary>The service name queried and announced.</summary>
    public string ServiceName { get; }

    /// <summary>Our random instance label.</summary>
    public string PeerName { get; }

    /// <summary><c>&lt;peer-name&gt;.&lt;service-name&gt;</c>.</summary>
    public string InstanceName { get; }

    /// <summary>Packet counters.</summary>
    public MdnsStatistics Statistics { get; }

    /// <summary>The interfaces in use (empty before <see cref="Start"/>).</summary>
    public IReadOnlyList<MdnsInterface> Interfaces => _interfaces;

    /// <summary>
    /// Opens the socket (UDP <see cref="MdnsOptions.Port"/>, address reuse so several nodes share it), joins the group on
    /// every chosen interface and starts the receive, respond and query loops. The socket and interface list are made
    /// synchronously on the calling thread, which matters to callers that run it inside a network namespace.
    /// </summary>
    /// <exception cref="SocketException">The port cannot be bound.</exception>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_socket is not null) throw new InvalidOperationException("already started");
        var interfaces = MdnsInterface.Enumerate(_options.InterfaceFilter);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(IPAddress.Any, _options.Port));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var joined = new List<MdnsInterface>();
        foreach (var nic in interfaces)
        {
            try
            {
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(_options.MulticastAddress, nic.Index));
                joined.Add(nic);
            }
            catch (SocketException e)
            {
                MdnsLog.JoinFailed(_logger, _options.MulticastAddress, nic.Name, e.Message);
            }
        }
        _socket = socket;
        _interfaces = joined;
        if (joined.Count == 0) MdnsLog.NoInterfaces(_logger);
        MdnsLog.Started(_logger, InstanceName, string.Join(",", joined.Select(i => i.Name)), ServiceName);
        _loops.Start("receive", token => ReceiveLoopAsync(socket, token));
        _loops.Start("respond", RespondLoopAsync);
        _loops.Start("query", QueryLoopAsync);
    }

    /// <summary>The receive, respond and query loops: failures are logged, counted and the loop restarted.</summary>
    internal BackgroundLoops Loops => _loops;

    /// <inheritdoc />
    public IAsyncEnumerable<DiscoveredPeer> DiscoverAsync(CancellationToken cancellationToken)
    {
        Channel<DiscoveredPeer> channel;
        lock (_gate) channel = _broadcaster.Register(_table.Snapshot(_time.GetUtcNow()));
        return _broadcaster.ReadAsync(channel, cancellationToken);
    }

    /// <summary>The peers currently announced and not expired.</summary>
    public IReadOnlyList<DiscoveredPeer> KnownPeers
    {
        get
        {
            lock (_gate) return _table.Snapshot(_time.GetUtcNow());
        }
    }

    /// <summary>
    /// A connection proved <paramref name="peer"/> is at <paramref name="remoteAddress"/>: from now on only the source
    /// that announced that address speaks for the peer (announcements of it from elsewhere are ignored, and the peer is
    /// forgotten with that source's records).
    /// </summary>
    public void Connected(PeerId peer, Multiaddr remoteAddress)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(remoteAddress);
        if (MdnsPeerTable.IpOf(remoteAddress) is not { } ip) return;
        lock (_gate) _table.Confirm(peer, ip, _time.GetUtcNow());
    }

    /// <summary>Sends one query on every interface now (besides the periodic ones).</summary>
    public async ValueTask QueryNowAsync(CancellationToken cancellationToken)
    {
        var query = MdnsPackets.BuildQuery(ServiceName);
        foreach (var nic in _interfaces)
        {
            if (await SendAsync(nic, query, _group, cancellationToken).ConfigureAwait(false)) Statistics.Sent(query: true);
        }
    }

    /// <summary>The addresses we would announce on <paramref name="nic"/>, each ending in <c>/p2p/&lt;our id&gt;</c>.</summary>
    public IReadOnlyList<Multiaddr> AdvertisedAddresses(MdnsInterface nic)
    {
        ArgumentNullException.ThrowIfNull(nic);
        var result = new List<Multiaddr>();
        var listen = _listenAddresses();
        foreach (var address in listen)
        {
            var bare = address.WithoutPeerId();
            if (bare.Components.Count == 0 || bare.Components[0].Protocol.Kind is not (ValueKind.IPv4 or ValueKind.IPv6)) continue;
            var ip = bare.Components[0].AsIPAddress();
            var candidates = ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)
                ? nic.Addresses.Where(a => a.AddressFamily == ip.AddressFamily).Select(a => Replace(bare, a))
                : [bare];
            foreach (var candidate in candidates)
            {
                var candidateIp = candidate.Components[0].AsIPAddress();
                if (candidateIp.IsIPv6LinkLocal) continue; // would need a zone the remote cannot know
                var announce = IPAddress.IsLoopback(candidateIp) ? nic.IsLoopback : _options.AdvertisePublicAddresses || MdnsInterface.IsPrivate(candidateIp);
                var full = candidate.WithPeerId(_localPeer);
                if (announce && !result.Contains(full) && result.Count < _options.MaxAdvertisedAddresses) result.Add(full);
            }
        }
        if (result.Count == 0 && listen.Count > 0) MdnsLog.NothingToAdvertise(_logger, listen.Count);
        return result;
    }

    /// <summary>Stops the loops, leaves the group and closes the socket; subscribers' streams end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await SendGoodbyesAsync().ConfigureAwait(false);
        _socket?.Dispose(); // unblocks a pending receive (which then ends), then the loops are cancelled and awaited
        await _loops.DisposeAsync().ConfigureAwait(false);
        _broadcaster.Complete();
        _sendLock.Dispose();
        MdnsLog.Stopped(_logger, Statistics.QueriesSent, Statistics.ResponsesSent, Statistics.PacketsReceived, Statistics.PacketsDropped);
    }

    /// <summary>RFC 6762 §10.1: our records with TTL 0, so peers forget us now rather than after 120 s.</summary>
    private async ValueTask SendGoodbyesAsync()
    {
        if (_socket is null) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_loops.Stopping);
        timeout.CancelAfter(TimeSpan.FromMilliseconds(500));
        try
        {
            foreach (var nic in _interfaces)
            {
                var goodbye = MdnsPackets.BuildResponse(ServiceName, InstanceName, AdvertisedAddresses(nic), TimeSpan.Zero,
                    _options.MaxSendPacketLength, out var included);
                if (included > 0 && await SendAsync(nic, goodbye, _group, timeout.Token).ConfigureAwait(false)) Statistics.Sent(query: false);
            }
        }
        catch (OperationCanceledException)
        {
            // best effort: the TTL expires the records anyway
        }
    }

    private static Multiaddr Replace(Multiaddr address, IPAddress ip)
    {
        var head = Multiaddr.FromTcpEndPoint(new IPEndPoint(ip, 0)).Components[0];
        return Multiaddr.Parse(head + string.Concat(address.Components.Skip(1).Select(c => c.ToString())));
    }

    private static string RandomPeerName()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(alphabet, 32);
    }

    private sealed class ResponseSchedule
    {
        public DateTimeOffset LastSent { get; set; } = DateTimeOffset.MinValue;
        public DateTimeOffset? Due { get; set; }
    }
}
