using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Mailbox.Tests.Wire;

/// <summary>
/// <see cref="MailboxSession.PullPagesAsync"/> guesses where the next page starts; these tests make the guesses wrong
/// (expired blobs leave holes in the cursors, the byte limit cuts pages short) and check that every live blob comes
/// exactly once, in cursor order.
/// </summary>
[TestFixture]
public sealed class PipelinedPullTests
{
    [Test]
    public async Task Pipelined_pages_deliver_every_blob_once_across_holes_and_short_pages()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ServerHarness.StartAsync(o => o with { IdleTimeout = TimeSpan.FromDays(30), RequestsPerSecond = 1_000_000, PushesPerMinute = 1_000_000 }, time: time,
            cancellationToken: timeout.Token);
        var credentials = Credentials.Random();
        var (pusher, _) = await harness.OpenAsync(credentials, timeout.Token);
        var live = new List<ulong>();
        // 700 blobs; every 7th (and a run of 40) expires, leaving holes the guesses step over.
        for (var i = 0; i < 700; i++)
        {
            var shortLived = i % 7 == 3 || i is >= 300 and < 340;
            var result = await pusher.PushAsync(Blobs.Make(i % 50 == 0 ? 6000 : 200), timeout.Token, shortLived ? 60UL : 0UL);
            if (!shortLived) live.Add(result.Cursor);
        }
        time.Advance(TimeSpan.FromMinutes(5));
        var (reader, _) = await harness.OpenAsync(credentials.OtherDevice(), timeout.Token);

        foreach (var (limit, maxBytes, depth) in new[] { (32, 0, 4), (25, 0, 2), (64, 8 * 1024, 3), (1, 0, 4), (0, 0, 1) })
        {
            var seen = new List<ulong>();
            await foreach (var page in reader.PullPagesAsync(0, limit, maxBytes, 0, depth, timeout.Token))
                seen.AddRange(page.Blobs.Select(b => b.Cursor));
            Assert.That(seen, Is.EqualTo(live), $"limit {limit}, max bytes {maxBytes}, depth {depth}");
        }

        // From the middle, and stopping early leaves the session usable.
        var middle = live[live.Count / 2];
        var rest = new List<ulong>();
        await foreach (var page in reader.PullPagesAsync(middle, 16, 0, 0, 4, timeout.Token)) rest.AddRange(page.Blobs.Select(b => b.Cursor));
        Assert.That(rest, Is.EqualTo(live.Where(c => c > middle)));
        await foreach (var _ in reader.PullPagesAsync(0, 8, 0, 0, 4, timeout.Token)) break;
        var single = await reader.PullAsync(0, 5, 0, 0, timeout.Token);
        Assert.That(single.Blobs.Select(b => b.Cursor), Is.EqualTo(live.Take(5)));
        await pusher.DisposeAsync();
        await reader.DisposeAsync();
    }

    [Test]
    public async Task Pulling_before_open_or_with_a_bad_depth_is_refused()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var harness = await ServerHarness.StartAsync(cancellationToken: timeout.Token);
        await using var session = await harness.SessionAsync(timeout.Token);
        Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await foreach (var _ in session.PullPagesAsync(0, 0, 0, 0, 2, timeout.Token))
            {
            }
        });
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
        {
            await foreach (var _ in session.PullPagesAsync(0, 0, 0, 0, MailboxSession.MaxPullDepth + 1, timeout.Token))
            {
            }
        });
    }
}
