using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Cli.Daemon;

/// <summary>
/// A small HTTP endpoint of a running node, meant for loopback: <c>GET /metrics</c> (Prometheus text from a
/// <see cref="PrometheusMeterExporter"/>), <c>GET /status</c> (<see cref="NodeStatusReport"/>) and
/// <c>GET /resolve/&lt;peer id&gt;</c> (a DHT lookup of that node's record). Requests are served a few at a time;
/// more wait in the listener's queue. It has no authentication: bind it to loopback.
/// </summary>
internal sealed partial class NodeStatusServer : IAsyncDisposable
{
    private const int MaxConcurrentRequests = 8;
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(30);

    private readonly PrometheusMeterExporter? _metrics;
    private readonly HttpListener _listener = new();
    private readonly ILogger _logger;
    private readonly BackgroundTasks _tasks;
    private readonly SemaphoreSlim _slots = new(MaxConcurrentRequests, MaxConcurrentRequests);
    private KontinuumNode? _node;
    private int _disposed;

    private NodeStatusServer(PrometheusMeterExporter? metrics, IPEndPoint endpoint, ILogger logger)
    {
        _metrics = metrics;
        _logger = logger;
        _tasks = new BackgroundTasks(e => LogRequestFailed(_logger, e));
        Endpoint = endpoint;
        var host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any) ? "*"
            : endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        _listener.Prefixes.Add($"http://{host}:{endpoint.Port}/");
    }

    /// <summary>The address served.</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Starts serving <paramref name="node"/> on <paramref name="endpoint"/> (<see cref="Bind"/> then <see cref="Serve"/>).</summary>
    /// <exception cref="HttpListenerException">The address cannot be bound (in use, not local).</exception>
    public static NodeStatusServer Start(KontinuumNode node, PrometheusMeterExporter? metrics, IPEndPoint endpoint, ILoggerFactory loggerFactory)
    {
        var server = Bind(metrics, endpoint, loggerFactory);
        server.Serve(node);
        return server;
    }

    /// <summary>
    /// Binds <paramref name="endpoint"/> without answering yet, so that a taken address is reported before a node is
    /// started for nothing; connections made meanwhile wait until <see cref="Serve"/>.
    /// </summary>
    /// <exception cref="HttpListenerException">The address cannot be bound (in use, not local).</exception>
    public static NodeStatusServer Bind(PrometheusMeterExporter? metrics, IPEndPoint endpoint, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var server = new NodeStatusServer(metrics, endpoint, loggerFactory.CreateLogger<NodeStatusServer>());
        try
        {
            server._listener.Start();
        }
        catch
        {
            server._listener.Close();
            server._slots.Dispose();
            throw;
        }
        return server;
    }

    /// <summary>Starts answering requests about <paramref name="node"/>; once only.</summary>
    public void Serve(KontinuumNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.CompareExchange(ref _node, node, null) is not null) throw new InvalidOperationException("already serving a node");
        _tasks.Run(AcceptLoopAsync);
        LogListening(_logger, Endpoint.ToString());
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Stopping the listener ends the pending accept; then the requests in flight are cancelled and awaited.
        _listener.Stop();
        await _tasks.DisposeAsync().ConfigureAwait(false);
        _listener.Close();
        _slots.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            _tasks.Run(async token =>
            {
                try
                {
                    await HandleAsync(context, token).ConfigureAwait(false);
                }
                finally
                {
                    _slots.Release();
                }
            });
        }
    }

    private async Task HandleAsync(HttpListenerContext context, CancellationToken cancellationToken)
    {
        var response = context.Response;
        try
        {
            var path = context.Request.Url?.AbsolutePath ?? "/";
            if (context.Request.HttpMethod != "GET")
                await WriteAsync(response, 405, "text/plain", "only GET\n", cancellationToken).ConfigureAwait(false);
            else if (path == "/metrics")
                await WriteAsync(response, 200, "text/plain; version=0.0.4; charset=utf-8", _metrics?.Render() ?? "", cancellationToken).ConfigureAwait(false);
            else if (path == "/status")
                await WriteAsync(response, 200, "application/json", NodeStatusReport.Create(_node!).ToJsonString(), cancellationToken).ConfigureAwait(false);
            else if (path.StartsWith("/resolve/", StringComparison.Ordinal))
                await ResolveAsync(response, path["/resolve/".Length..], cancellationToken).ConfigureAwait(false);
            else
                await WriteAsync(response, 404, "text/plain", "try /metrics, /status or /resolve/<peer id>\n", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            LogClientGone(_logger, e.Message); // the client went away
        }
        finally
        {
            response.Close();
        }
    }

    private async Task ResolveAsync(HttpListenerResponse response, string text, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(text, out var peer) || peer is null)
        {
            await WriteAsync(response, 400, "application/json", new JsonObject { ["error"] = $"'{text}' is not a peer id" }.ToJsonString(), cancellationToken)
                .ConfigureAwait(false);
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ResolveTimeout);
        var watch = Stopwatch.StartNew();
        var result = new JsonObject { ["peerId"] = peer.ToString() };
        try
        {
            var record = await _node!.ResolveNodeAsync(peer, timeout.Token).ConfigureAwait(false);
            result["found"] = record is not null && record.PeerId == peer;
            if (record is not null)
            {
                result["addrs"] = new JsonArray([.. record.Addresses.Select(a => (JsonNode?)JsonValue.Create(a.ToString()))]);
                result["sequence"] = record.Sequence;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            result["found"] = false;
            result["error"] = e.Message;
        }
        result["ms"] = Math.Round(watch.Elapsed.TotalMilliseconds, 1);
        await WriteAsync(response, 200, "application/json", result.ToJsonString(), cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteAsync(HttpListenerResponse response, int status, string contentType, string body, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "metrics and status served on http://{Endpoint}/ (/metrics, /status, /resolve/<peer id>)")]
    private static partial void LogListening(ILogger logger, string endpoint);

    [LoggerMessage(Level = LogLevel.Debug, Message = "status request ended early: {Reason}")]
    private static partial void LogClientGone(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "status request failed")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception);
}
