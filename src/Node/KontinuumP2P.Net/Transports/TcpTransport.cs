using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Network;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Net.Transports;

/// <summary>Options of <see cref="TcpTransport"/>.</summary>
public sealed record TcpTransportOptions
{
    /// <summary>How long a dial may take before it fails.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes buffered per direction before the writer waits (backpressure).</summary>
    public int MaxBufferedBytes { get; init; } = 1 << 20;

    /// <summary>Pending inbound connections the OS keeps before accepting.</summary>
    public int ListenBacklog { get; init; } = 512;

    /// <summary>The clock used for dial timeouts.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>TCP over IPv4 and IPv6: addresses <c>/ip4|ip6/&lt;ip&gt;/tcp/&lt;port&gt;</c> with an optional <c>/p2p/&lt;id&gt;</c>.</summary>
public sealed class TcpTransport : ITransport
{
    private readonly TcpTransportOptions _options;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates the transport.</summary>
    public TcpTransport(TcpTransportOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? new TcpTransportOptions();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
    }

    /// <inheritdoc />
    public bool CanDial(Multiaddr address) => IsTcpShape(address, allowPeerId: true);

    /// <inheritdoc />
    public bool CanListen(Multiaddr address) => IsTcpShape(address, allowPeerId: false);

    /// <inheritdoc />
    public async ValueTask<ITransportConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        if (!CanDial(address)) throw new ArgumentException($"TCP cannot dial '{address}'", nameof(address));
        var endPoint = address.ToTcpEndPoint()!;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(_options.DialTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            await socket.ConnectAsync(endPoint, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"dialing {address} timed out after {_options.DialTimeout.TotalSeconds:0.#} s");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new TcpConnection(socket, _options.MaxBufferedBytes, _options.TimeProvider, _loggerFactory.CreateLogger<TcpConnection>());
    }

    /// <inheritdoc />
    public ValueTask<ITransportListener> ListenAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!CanListen(address)) throw new ArgumentException($"TCP cannot listen on '{address}'", nameof(address));
        var endPoint = address.ToTcpEndPoint()!;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // An explicit /ip6 address means IPv6 only; dual-stack would make the advertised address ambiguous.
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
            socket.Bind(endPoint);
            socket.Listen(_options.ListenBacklog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return ValueTask.FromResult<ITransportListener>(new TcpTransportListener(socket, _options, _loggerFactory));
    }

    private static bool IsTcpShape(Multiaddr address, bool allowPeerId)
    {
        var parts = address.Components;
        if (parts.Count is not (2 or 3)) return false;
        if (parts[0].Protocol.Kind is not (ValueKind.IPv4 or ValueKind.IPv6)) return false;
        if (parts[1].Protocol.Code != MultiaddrProtocol.Tcp.Code) return false;
        return parts.Count == 2 || (allowPeerId && parts[2].Protocol.Code == MultiaddrProtocol.P2p.Code);
    }

    private sealed class TcpTransportListener(Socket socket, TcpTransportOptions options, ILoggerFactory loggerFactory)
        : ITransportListener
    {
        public Multiaddr ListenAddress { get; } = Multiaddr.FromTcpEndPoint((IPEndPoint)socket.LocalEndPoint!);

        public async ValueTask<ITransportConnection> AcceptAsync(CancellationToken cancellationToken)
        {
            Socket accepted;
            try
            {
                accepted = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException e)
            {
                throw new OperationCanceledException("the listener was disposed", e, cancellationToken);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                throw new OperationCanceledException("the listener was disposed", e, cancellationToken);
            }
            accepted.NoDelay = true;
            return new TcpConnection(accepted, options.MaxBufferedBytes, options.TimeProvider, loggerFactory.CreateLogger<TcpConnection>());
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
