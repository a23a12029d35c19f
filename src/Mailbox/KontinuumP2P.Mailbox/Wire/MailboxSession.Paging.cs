using System.Runtime.CompilerServices;

namespace KontinuumP2P.Mailbox.Wire;

public sealed partial class MailboxSession
{
    /// <summary>Most pages <see cref="PullPagesAsync"/> keeps requested ahead.</summary>
    public const int MaxPullDepth = 4;

    /// <summary>
    /// Reads every blob after <paramref name="afterCursor"/> page by page with up to <paramref name="depth"/> pull
    /// requests in flight, so the stream never idles between pages. Cursors are assigned one by one, so the page after
    /// a full page of <c>L</c> blobs starting at <c>s</c> is requested at <c>s + L</c> before the first page arrives.
    /// That guess is checked: a page that started past the previous page's last blob (blobs were deleted, or the
    /// byte limit cut a page short) is dropped and asked again from the right cursor, and guessing stops for the rest
    /// of the read; blobs a page repeats are trimmed. Every yielded page therefore starts right after the previous
    /// one's last blob, with nothing missed and nothing repeated.
    /// </summary>
    /// <param name="afterCursor">Last cursor already held (0 = from the start).</param>
    /// <param name="limit">Most blobs per page (0 = the server's maximum).</param>
    /// <param name="maxBytes">Most bytes per page (0 = the server's maximum).</param>
    /// <param name="epoch">The epoch the cursor belongs to (0 = any).</param>
    /// <param name="depth">Requests in flight, 1..<see cref="MaxPullDepth"/> (each holds up to a page in memory).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="InvalidOperationException">The session is not open.</exception>
    public async IAsyncEnumerable<MailboxPullResult> PullPagesAsync(ulong afterCursor, int limit, int maxBytes, ulong epoch, int depth,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, MaxPullDepth);
        var open = OpenResult ?? throw new InvalidOperationException("open the mailbox before pulling");
        var pageBlobs = (ulong)(limit == 0 ? open.Limits.MaxPullBlobs : Math.Min(limit, open.Limits.MaxPullBlobs));
        var inFlight = new Queue<(ulong Start, Task<MailboxPullResult> Page)>();
        var position = afterCursor;
        var knownMax = open.MaxCursor;
        var guessing = pageBlobs > 0;
        try
        {
            inFlight.Enqueue((position, PullAsync(position, limit, maxBytes, epoch, cancellationToken)));
            while (inFlight.Count > 0)
            {
                // Guess further pages only inside what the server said it holds (past the end is a BadCursor refusal).
                while (guessing && inFlight.Count < depth)
                {
                    var next = inFlight.Last().Start + pageBlobs;
                    if (next >= knownMax) break;
                    inFlight.Enqueue((next, PullAsync(next, limit, maxBytes, epoch, cancellationToken)));
                }
                var (start, pending) = inFlight.Dequeue();
                var page = await pending.ConfigureAwait(false);
                knownMax = Math.Max(knownMax, page.MaxCursor);
                if (start > position)
                {
                    // The previous page ended before this guess began: blobs between might be missed. Ask again.
                    guessing = false;
                    await DrainAsync(inFlight).ConfigureAwait(false);
                    inFlight.Enqueue((position, PullAsync(position, limit, maxBytes, epoch, cancellationToken)));
                    continue;
                }
                var blobs = page.Blobs;
                if (start < position && blobs.Count > 0 && blobs[0].Cursor <= position)
                    blobs = [.. blobs.Where(b => b.Cursor > position)];
                if (blobs.Count > 0) position = blobs[^1].Cursor;
                else if (page.Blobs.Count > 0) position = Math.Max(position, page.Blobs[^1].Cursor);
                yield return ReferenceEquals(blobs, page.Blobs) ? page : page with { Blobs = blobs };
                if (!page.HasMore) break;
                if (inFlight.Count == 0) inFlight.Enqueue((position, PullAsync(position, limit, maxBytes, epoch, cancellationToken)));
            }
        }
        finally
        {
            await DrainAsync(inFlight).ConfigureAwait(false);
        }
    }

    /// <summary>Waits out requests whose pages are no longer wanted, so none is left unobserved.</summary>
    private static async Task DrainAsync(Queue<(ulong Start, Task<MailboxPullResult> Page)> inFlight)
    {
        while (inFlight.Count > 0)
        {
            var (_, page) = inFlight.Dequeue();
            await page.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                .ConfigureAwait(false);
        }
    }
}
