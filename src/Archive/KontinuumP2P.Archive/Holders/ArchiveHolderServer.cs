using System.Diagnostics.Metrics;
using KontinuumP2P.Archive.Protos.Holder;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Archive.Holders;

/// <summary>
/// An archive holder: serves <see cref="ArchiveHolderProtocol.ProtocolId"/> from a <see cref="DirectorySink"/> it owns.
/// Anyone may fetch, test or list (objects are ciphertext named by hash or by an address only a group can compute);
/// only peers the node vouches for (<c>mayStore</c>: admitted with the <c>mailbox</c> capability) may store. A pack is
/// stored only when its bytes hash to its id; manifests are written once and never replaced. Every frame, transfer,
/// stream count, concurrent store and the total size are bounded; a malformed request resets only its own stream.
/// </summary>
public sealed partial class ArchiveHolderServer : IProtocolHandler, IAsyncDisposable
{
    private readonly IPeerHost _host;
    private readonly Func<PeerId, CancellationToken, ValueTask<bool>> _mayStore;
    private readonly Func<ReadOnlyMemory<byte>, CancellationToken, Task<int>>? _announce;
    private readonly SemaphoreSlim _storeGate;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private Task _announcing = Task.CompletedTask;
    private Counter<long>? _stored;
    private Counter<long>? _storedBytes;
    private Counter<long>? _refused;
    private long _usedBytes;
    private int _sessions;
    private int _stopped;

    private ArchiveHolderServer(IPeerHost host, ArchiveHolderOptions options, Func<PeerId, CancellationToken, ValueTask<bool>> mayStore,
        Func<ReadOnlyMemory<byte>, CancellationToken, Task<int>>? announce, TimeProvider time, ILogger logger)
    {
        _host = host;
        Options = options;
        _mayStore = mayStore;
        _announce = announce;
        _time = time;
        _logger = logger;
        _storeGate = new SemaphoreSlim(options.MaxConcurrentStores, options.MaxConcurrentStores);
        Store = new DirectorySink(options.Directory);
        _usedBytes = CountStoredBytes(options.Directory);
    }

    /// <summary>Opens the store and serves the protocol on <paramref name="host"/>; with <paramref name="announce"/>, announces the holder now and every <see cref="ArchiveHolderOptions.AnnounceInterval"/>.</summary>
    /// <param name="host">The host to serve on.</param>
    /// <param name="options">Settings (validated here).</param>
    /// <param name="mayStore">Whether a peer may store (the node checks its admitted certificate).</param>
    /// <param name="announce">Announces a provider key in the DHT (returns how many peers were told); null announces nothing.</param>
    /// <param name="loggerFactory">Logging.</param>
    /// <param name="timeProvider">The clock of deadlines (default: the host's).</param>
    /// <param name="meterFactory">Meters (<c>kontinuum.archive.holder.*</c>); null: none.</param>
    public static ArchiveHolderServer Start(IPeerHost host, ArchiveHolderOptions options, Func<PeerId, CancellationToken, ValueTask<bool>> mayStore,
        Func<ReadOnlyMemory<byte>, CancellationToken, Task<int>>? announce, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(mayStore);
        options.Validate();
        var server = new ArchiveHolderServer(host, options, mayStore, announce, timeProvider ?? host.TimeProvider,
            (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ArchiveHolderServer>());
        if (meterFactory is not null)
        {
            var meter = meterFactory.Create("KontinuumP2P.Archive.Holder");
            server._stored = meter.CreateCounter<long>("kontinuum.archive.holder.stored", description: "Objects stored");
            server._storedBytes = meter.CreateCounter<long>("kontinuum.archive.holder.stored_bytes", "By", "Bytes stored");
            server._refused = meter.CreateCounter<long>("kontinuum.archive.holder.refused", description: "Requests refused, by code");
            meter.CreateObservableGauge("kontinuum.archive.holder.used_bytes", () => server.UsedBytes, "By", "Bytes held and reserved");
            meter.CreateObservableGauge("kontinuum.archive.holder.sessions", () => server.SessionCount, description: "Streams open");
        }
        host.SetHandler(ArchiveHolderProtocol.ProtocolId, server);
        if (announce is not null) server._announcing = server.AnnounceLoopAsync(server._stopping.Token);
        Log.Started(server._logger, options.Directory, server.UsedBytes, options.QuotaBytes);
        return server;
    }

    /// <summary>The settings in force.</summary>
    public ArchiveHolderOptions Options { get; }

    /// <summary>Bytes stored (and reserved by stores under way).</summary>
    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    /// <summary>Streams open now.</summary>
    public int SessionCount => Volatile.Read(ref _sessions);

    /// <summary>The holder's store.</summary>
    internal DirectorySink Store { get; }

    /// <summary>Called with the session count each time a stream is admitted as a session (tests wait on it).</summary>
    internal Action<int>? SessionOpened { get; set; }

    /// <summary>Announces this holder under <see cref="ArchiveHolderProtocol.HoldersKey"/> now; returns how many DHT peers were told.</summary>
    public async Task<int> AnnounceAsync(CancellationToken cancellationToken) =>
        _announce is null ? 0 : await _announce(ArchiveHolderProtocol.HoldersKey, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            var sessions = Interlocked.Increment(ref _sessions);
            if (sessions > Options.MaxSessions || _stopping.IsCancellationRequested)
            {
                await RespondAsync(stream, Error(HolderErrorCode.Busy, "the holder serves no more streams now"), cancellationToken).ConfigureAwait(false);
                await stream.Output.CompleteAsync().ConfigureAwait(false);
                return;
            }
            SessionOpened?.Invoke(sessions);
            using var transfer = new CancellationTokenSource(Options.TransferTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token, transfer.Token);
            await ServeAsync(stream, linked.Token).ConfigureAwait(false);
            await stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            Log.Malformed(_logger, stream.Connection.RemotePeer.ToString(), e.Message);
            stream.Reset();
        }
        catch (OperationCanceledException)
        {
            stream.Reset();
        }
        catch (IOException)
        {
            stream.Reset();
        }
        finally
        {
            Interlocked.Decrement(ref _sessions);
        }
    }

    private async Task ServeAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        HolderRequest? request;
        using (var header = new CancellationTokenSource(Options.RequestTimeout, _time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, header.Token))
            request = await ArchiveHolderProtocol.ReadAsync(stream.Input, HolderRequest.Parser, linked.Token).ConfigureAwait(false);
        if (request is null) return;
        var peer = stream.Connection.RemotePeer;
        switch (request.BodyCase)
        {
            case HolderRequest.BodyOneofCase.Store:
                await StoreAsync(stream, peer, request.Store, cancellationToken).ConfigureAwait(false);
                break;
            case HolderRequest.BodyOneofCase.Fetch:
                await FetchAsync(stream, request.Fetch, cancellationToken).ConfigureAwait(false);
                break;
            case HolderRequest.BodyOneofCase.Has:
                await HasAsync(stream, request.Has, cancellationToken).ConfigureAwait(false);
                break;
            case HolderRequest.BodyOneofCase.List:
                await ListAsync(stream, request.List, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new InvalidDataException("a request names no operation");
        }
    }

    internal static HolderResponse Error(HolderErrorCode code, string message) => new() { Code = (uint)code, Message = message };

    private void CountRefusal(HolderErrorCode code) => _refused?.Add(1, new KeyValuePair<string, object?>("code", code.ToString()));

    private void CountStored(long bytes)
    {
        _stored?.Add(1);
        _storedBytes?.Add(bytes);
    }

    internal static async ValueTask RespondAsync(IP2PStream stream, HolderResponse response, CancellationToken cancellationToken)
    {
        ArchiveHolderProtocol.Write(stream.Output, response);
        await ArchiveHolderProtocol.FlushAsync(stream.Output, cancellationToken).ConfigureAwait(false);
    }

    private async Task AnnounceLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(Options.AnnounceInterval, _time);
        try
        {
            do
            {
                try
                {
                    var told = await AnnounceAsync(cancellationToken).ConfigureAwait(false);
                    Log.Announced(_logger, told);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // Any failure waits for the next interval: the loop must outlive a bad DHT round.
                    Log.AnnounceFailed(_logger, e);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private static long CountStoredBytes(string directory)
    {
        long total = 0;
        foreach (var folder in new[] { "p", "m" })
        {
            var path = Path.Combine(directory, folder);
            if (!System.IO.Directory.Exists(path)) continue;
            foreach (var file in new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories)) total += file.Length;
        }
        return total;
    }

    /// <summary>Stops serving: open streams are cancelled and awaited by the host; the announce loop is awaited.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        _host.RemoveHandler(ArchiveHolderProtocol.ProtocolId);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _announcing.ConfigureAwait(false);
        await Store.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _storeGate.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 80, Level = LogLevel.Information, Message = "Archive holder serving {Directory} ({Used} of {Quota} bytes used)")]
        public static partial void Started(ILogger logger, string directory, long used, long quota);

        [LoggerMessage(EventId = 81, Level = LogLevel.Debug, Message = "Archive holder announced to {Peers} DHT peers")]
        public static partial void Announced(ILogger logger, int peers);

        [LoggerMessage(EventId = 82, Level = LogLevel.Warning, Message = "Archive holder announcement failed")]
        public static partial void AnnounceFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 83, Level = LogLevel.Information, Message = "Archive holder reset a stream from {Peer}: {Reason}")]
        public static partial void Malformed(ILogger logger, string peer, string reason);

        [LoggerMessage(EventId = 84, Level = LogLevel.Information, Message = "Archive holder refused {Object} from {Peer}: {Code} {Reason}")]
        public static partial void Refused(ILogger logger, string @object, string peer, HolderErrorCode code, string reason);

        [LoggerMessage(EventId = 85, Level = LogLevel.Debug, Message = "Archive holder stored {Object} ({Bytes} bytes, announced to {Peers})")]
        public static partial void Stored(ILogger logger, string @object, long bytes, int peers);
    }
}
