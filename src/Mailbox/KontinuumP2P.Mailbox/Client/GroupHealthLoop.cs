using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// A group client's health loop (<see cref="GroupClient.StartHealthLoop"/>): one task runs a health round every
/// interval (probe, report with backoff, notice moved slots), another re-seeds replacements when a round found one and
/// on every interval while jobs are pending, a third closes rotated-out mailboxes a rotation could not reach. All stop,
/// and are awaited, on dispose.
/// </summary>
public sealed partial class GroupHealthLoop : IAsyncDisposable
{
    private readonly GroupClient _client;
    private readonly GroupHealthOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ReportSchedule _schedule;
    private Task? _rounds;
    private Task? _reseeds;
    private long _reseeded;
    private int _disposed;

    internal GroupHealthLoop(GroupClient client, GroupHealthOptions options, TimeProvider time, ILogger logger)
    {
        _client = client;
        _options = options;
        _time = time;
        _logger = logger;
        _schedule = new ReportSchedule(options.FirstReportInterval, options.MaxReportInterval);
    }

    /// <summary>Raised after every health round (on the loop's task).</summary>
    public event Action<GroupHealthRound>? RoundCompleted;

    /// <summary>Raised after every re-seed pass that pushed something, with the blobs pushed in it.</summary>
    public event Action<long>? Reseeded;

    /// <summary>Blobs pushed to replacements since the loop started.</summary>
    public long ReseededBlobs => Interlocked.Read(ref _reseeded);

    internal bool IsRunning => _disposed == 0 && _rounds is not null;

    internal void Start()
    {
        _rounds = RoundsAsync(_stop.Token);
        _reseeds = ReseedsAsync(_stop.Token);
        _closures = ClosuresAsync(_stop.Token);
        // Jobs saved by an earlier run resume at once.
        _wake.Writer.TryWrite(true);
    }

    internal void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Stops both tasks and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var task in new[] { _rounds, _reseeds, _closures })
        {
            if (task is null) continue;
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }

    private async Task RoundsAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.Interval, _time);
        do
        {
            try
            {
                var round = await _client.HealthRoundAsync(_options, _schedule, cancellationToken).ConfigureAwait(false);
                if (round.PendingReseeds > 0 || _client.Store.RetireRows().Count > 0) _wake.Writer.TryWrite(true);
                RoundCompleted?.Invoke(round);
            }
            catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
            {
                // Stopping: a failure the stop caused (a resolver or stream giving up mid-pass) ends the loop quietly.
                if (cancellationToken.IsCancellationRequested) return;
                // One failed round (a busy group file, a resolver error) must not end the loop.
                LogRoundFailed(_logger, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    private async Task ReseedsAsync(CancellationToken cancellationToken)
    {
        while (await _wake.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            _wake.Reader.TryRead(out _);
            try
            {
                var pushed = await _client.ReseedAsync(_options, cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _reseeded, pushed);
                if (pushed > 0) Reseeded?.Invoke(pushed);
                // Then the mailboxes left on the nodes the slots moved away from are emptied into the new nodes and closed.
                await _client.RetireMovedMailboxesAsync(_options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
            {
                // Stopping: a failure the stop caused (a resolver or stream giving up mid-pass) ends the loop quietly.
                if (cancellationToken.IsCancellationRequested) return;
                LogReseedFailed(_logger, e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "group health round failed, trying again next interval: {Reason}")]
    private static partial void LogRoundFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "re-seed pass failed, trying again when woken: {Reason}")]
    private static partial void LogReseedFailed(ILogger logger, string reason);
}
