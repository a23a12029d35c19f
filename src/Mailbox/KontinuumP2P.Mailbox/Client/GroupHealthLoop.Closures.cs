using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Client;

/// <content>
/// The loop's third task: closes rotated-out mailboxes that a rotation could not reach (persisted in <c>group.db</c>,
/// so it resumes after a restart). It runs a pass when the earliest pending row is due, and at least every interval.
/// </content>
public sealed partial class GroupHealthLoop
{
    private Task? _closures;
    private long _closed;

    /// <summary>Raised after a pass that closed old mailboxes, with how many it closed.</summary>
    public event Action<int>? MailboxesClosed;

    /// <summary>Old mailboxes this loop closed since it started.</summary>
    public long ClosedMailboxes => Interlocked.Read(ref _closed);

    private async Task ClosuresAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var wait = _options.Interval;
            try
            {
                var pass = await _client.CloseDueMailboxesAsync(cancellationToken).ConfigureAwait(false);
                if (pass.Closed > 0)
                {
                    Interlocked.Add(ref _closed, pass.Closed);
                    MailboxesClosed?.Invoke(pass.Closed);
                }
                if (pass.NextDue is { } due)
                {
                    var until = due - _time.GetUtcNow();
                    // A row due now whose pass closed nothing is waiting for the outbox: do not spin on it.
                    wait = until <= TimeSpan.Zero && pass.Closed == 0 ? OutboxBackoff.Initial : until < wait ? until : wait;
                }
            }
            catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
            {
                // Stopping: a failure the stop caused (a resolver or stream giving up mid-pass) ends the loop quietly.
                if (cancellationToken.IsCancellationRequested) return;
                LogClosingFailed(_logger, e.Message);
            }
            if (wait < OutboxBackoff.Initial / 10) wait = OutboxBackoff.Initial / 10;
            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "closing old mailboxes failed, trying again: {Reason}")]
    private static partial void LogClosingFailed(ILogger logger, string reason);
}
