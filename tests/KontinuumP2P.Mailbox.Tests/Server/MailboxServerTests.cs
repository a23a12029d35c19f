using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Tests.Server;

/// <summary>The server over real hosts and a real SQLite file: each request and each refusal, and that refusals store nothing.</summary>
[TestFixture]
public sealed class MailboxServerTests
{
    private CancellationTokenSource _timeout = null!;

    private CancellationToken Token => _timeout.Token;

    [SetUp]
    public void SetUp() => _timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

    [TearDown]
    public void TearDown() => _timeout.Dispose();

    [TestCase(false)]
    [TestCase(true)]
    public async Task Push_pull_ack_and_reopen(bool tcp)
    {
        await using var harness = await ServerHarness.StartAsync(tcp: tcp, cancellationToken: Token);
        var credentials = Credentials.Random();
        var (session, open) = await harness.OpenAsync(credentials, Token);
        await using (session)
        {
            Assert.Multiple(() =>
            {
                Assert.That(open.Epoch, Is.Not.Zero.And.Not.EqualTo(harness.Store.Epoch), "each mailbox has its own epoch");
                Assert.That(open.MaxCursor, Is.Zero);
                Assert.That(open.Limits.MaxPullBlobs, Is.EqualTo(harness.Server.Options.MaxPullBlobs));
                Assert.That(open.Retention.Role, Is.EqualTo(MailboxRole.Ephemeral));
                Assert.That(open.Retention.TtlMax, Is.EqualTo(TimeSpan.FromDays(7)));
            });
            var blobs = Enumerable.Range(0, 5).Select(_ => Blobs.Make()).ToList();
            var cursors = new List<ulong>();
            foreach (var blob in blobs) cursors.Add((await session.PushAsync(blob, Token)).Cursor);
            Assert.That(cursors, Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5 }));

            var first = await session.PullAsync(0, 2, 0, open.Epoch, Token);
            Assert.That(first.Blobs.Select(b => b.Cursor), Is.EqualTo(new ulong[] { 1, 2 }));
            Assert.That(first.HasMore, Is.True);
            var rest = await session.PullAsync(2, 0, 0, open.Epoch, Token);
            Assert.That(rest.Blobs.Select(b => b.Cursor), Is.EqualTo(new ulong[] { 3, 4, 5 }));
            Assert.That(rest.HasMore, Is.False);
            Assert.That(rest.MaxCursor, Is.EqualTo(5));
            Assert.That(rest.Blobs[2].Data.ToArray(), Is.EqualTo(blobs[4].Data));
            Assert.That(rest.Blobs[2].BlobId.ToArray(), Is.EqualTo(blobs[4].Id));

            // Byte-bounded pages: 1 KiB blobs, 2.5 KiB per page.
            var byBytes = await session.PullAsync(0, 0, 2560, 0, Token);
            Assert.That(byBytes.Blobs, Has.Count.EqualTo(2));
            Assert.That(byBytes.HasMore, Is.True);

            Assert.That(await session.AckAsync(3, open.Epoch, Token), Is.EqualTo(3));
            Assert.That(await session.AckAsync(2, open.Epoch, Token), Is.EqualTo(3), "acks never move back");
        }
        var (again, reopened) = await harness.OpenAsync(credentials, Token);
        await using (again)
        {
            Assert.That(reopened, Is.EqualTo(reopened with { MaxCursor = 5, AckedUpTo = 3, Pending = 2 }));
            Assert.That(reopened.MaxCursor, Is.EqualTo(5));
            Assert.That(reopened.AckedUpTo, Is.EqualTo(3));
            Assert.That(reopened.Pending, Is.EqualTo(2));
        }
        var (other, otherOpen) = await harness.OpenAsync(credentials.OtherDevice(), Token);
        await using (other) Assert.That(otherOpen.Pending, Is.EqualTo(5), "a new device has everything pending");
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Largest_blobs_and_multi_MiB_pages_cross_the_muxer_window(bool tcp)
    {
        // Frames of 1 MiB and 4 MiB are far over yamux's 256 KiB initial window: both ends must consume as they read.
        await using var harness = await ServerHarness.StartAsync(tcp: tcp, cancellationToken: Token);
        var (session, _) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (session)
        {
            var blobs = Enumerable.Range(0, 5).Select(_ => Blobs.Make(MailboxProtocol.MaxBlobBytes)).ToList();
            foreach (var blob in blobs) await session.PushAsync(blob, Token);
            var page = await session.PullAsync(0, 0, 0, 0, Token);
            Assert.That(page.Blobs, Has.Count.EqualTo(3), "4 MiB page: three 1 MiB blobs");
            Assert.That(page.HasMore, Is.True);
            Assert.That(page.Blobs[2].Data.ToArray(), Is.EqualTo(blobs[2].Data));
            var rest = await session.PullAsync(3, 0, 0, 0, Token);
            Assert.That(rest.Blobs.Select(b => b.Cursor), Is.EqualTo(new ulong[] { 4, 5 }));
        }
    }

    [Test]
    public async Task Requests_before_open_are_refused_NOT_OPEN_and_store_nothing()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        await using var session = await harness.SessionAsync(Token);
        await AssertRefused(MailboxErrorCode.NotOpen, () => session.PushAsync(Blobs.Make(), Token));
        await AssertRefused(MailboxErrorCode.NotOpen, () => session.PullAsync(0, 0, 0, 0, Token));
        await AssertRefused(MailboxErrorCode.NotOpen, () => session.AckAsync(0, 0, Token));
        await AssertRefused(MailboxErrorCode.NotOpen, () => session.SubscribeAsync(Token));
        Assert.That(harness.Store.Statistics.Blobs, Is.Zero);
        // The session is still usable: Open works after the refusals.
        var open = await session.OpenAsync(Credentials.Random().MailboxId, new byte[32], new byte[16], default, Token);
        Assert.That(open.MaxCursor, Is.Zero);
    }

    [Test]
    public async Task Wrong_capability_is_UNAUTHORIZED_and_creates_nothing()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        var credentials = Credentials.Random();
        var (owner, _) = await harness.OpenAsync(credentials, Token);
        await using (owner) await owner.PushAsync(Blobs.Make(), Token);
        await using var intruder = await harness.SessionAsync(Token);
        var thief = credentials with { Capability = Credentials.Random().Capability };
        await AssertRefused(MailboxErrorCode.Unauthorized,
            () => intruder.OpenAsync(thief.MailboxId, thief.Capability, thief.DeviceId, default, Token));
        await AssertRefused(MailboxErrorCode.NotOpen, () => intruder.PullAsync(0, 0, 0, 0, Token));
        Assert.That(harness.Store.Statistics.Mailboxes, Is.EqualTo(1));
        Assert.That(harness.Store.Statistics.Blobs, Is.EqualTo(1));
    }

    [Test]
    public async Task Oversized_blob_bad_blob_id_and_replayed_push_each_get_their_answer()
    {
        await using var harness = await ServerHarness.StartAsync(o => o with { Store = o.Store with { MaxBlobBytes = 4096 } }, cancellationToken: Token);
        var (session, open) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (session)
        {
            Assert.That(open.Limits.MaxBlobBytes, Is.EqualTo(4096));
            await AssertRefused(MailboxErrorCode.BlobTooLarge, () => session.PushAsync(Blobs.Make(4097), Token));
            var blob = Blobs.Make();
            var wrongId = (byte[])blob.Id.Clone();
            wrongId[0] ^= 1;
            await AssertRefused(MailboxErrorCode.BadBlobId, () => session.PushAsync(blob.Data, wrongId, 0, Token));
            await AssertRefused(MailboxErrorCode.BadBlobId, () => session.PushAsync(blob.Data, blob.Id.AsMemory(0, 31), 0, Token));
            Assert.That(harness.Store.Statistics.Blobs, Is.Zero, "refusals stored nothing");

            var first = await session.PushAsync(blob, Token);
            await session.PushAsync(Blobs.Make(), Token);
            var replay = await session.PushAsync(blob, Token);
            Assert.That(first, Is.EqualTo(new MailboxPushResult(1, false, open.Epoch)));
            Assert.That(replay, Is.EqualTo(new MailboxPushResult(1, true, open.Epoch)));
            Assert.That(harness.Store.Statistics.Blobs, Is.EqualTo(2));
            Assert.That((await session.PullAsync(0, 0, 0, 0, Token)).MaxCursor, Is.EqualTo(2), "a replay takes no cursor");
        }
    }

    [Test]
    public async Task Cursor_past_the_end_is_BAD_CURSOR_and_a_wrong_epoch_is_EPOCH_CHANGED()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        var (session, open) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (session)
        {
            for (var i = 0; i < 3; i++) await session.PushAsync(Blobs.Make(), Token);
            await AssertRefused(MailboxErrorCode.BadCursor, () => session.PullAsync(4, 0, 0, 0, Token));
            await AssertRefused(MailboxErrorCode.BadCursor, () => session.AckAsync(4, 0, Token));
            Assert.That((await session.PullAsync(3, 0, 0, 0, Token)).Blobs, Is.Empty, "the end itself is fine");
            var wrong = open.Epoch ^ 0x5555;
            var error = await AssertRefused(MailboxErrorCode.EpochChanged, () => session.PullAsync(0, 0, 0, wrong, Token));
            Assert.That(error.Epoch, Is.EqualTo(open.Epoch));
            await AssertRefused(MailboxErrorCode.EpochChanged, () => session.AckAsync(1, wrong, Token));
            Assert.That(await session.AckAsync(3, open.Epoch, Token), Is.EqualTo(3));
        }
    }

    [Test]
    public async Task A_malformed_frame_closes_only_that_stream()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        var (good, _) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (good)
        {
            foreach (var garbage in new[]
            {
                new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, // bad varint
                new byte[] { 4, 0xFF, 0xFF, 0xFF, 0xFF }, // bad protobuf
                KontinuumP2P.Core.Codecs.Varint.Encode(MailboxProtocol.MaxRequestFrameBytes + 1UL), // over the cap
                Frame(new Request { RequestId = 0, Subscribe = new Subscribe() }), // no request id
                Frame(new Request { RequestId = 5 }), // no body
                Frame(new Request { RequestId = 6, Open = new Open { MailboxId = Google.Protobuf.ByteString.CopyFrom(new byte[31]) } }),
            })
            {
                var raw = await harness.Pair.RawStreamAsync(Token);
                await using (raw)
                {
                    await raw.Output.WriteAsync(garbage, Token);
                    var answer = await MailboxFrames.ReadAsync(raw.Input, Response.Parser, MailboxProtocol.MaxSmallFrameBytes, Token);
                    Assert.That(answer!.Error.Code, Is.EqualTo(ErrorCode.Malformed));
                    // Then the server closes its side.
                    Assert.That(await MailboxFrames.ReadAsync(raw.Input, Response.Parser, MailboxProtocol.MaxSmallFrameBytes, Token), Is.Null);
                }
            }
            Assert.That((await good.PushAsync(Blobs.Make(), Token)).Cursor, Is.EqualTo(1), "the other stream is untouched");
            Assert.That(harness.Logs.Lines, Has.Some.Contains("malformed"));
        }
    }

    [Test]
    public async Task Mailbox_quota_by_blobs_and_bytes_and_server_full_by_bytes_and_mailboxes()
    {
        await using var harness = await ServerHarness.StartAsync(o => o with
        {
            Store = o.Store with { MaxMailboxBlobs = 3, MaxMailboxBytes = 8 << 10, MaxMailboxes = 2, MaxBlobBytes = 4096, MaxDbBytes = 9000 },
        }, cancellationToken: Token);
        var (a, _) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (a)
        {
            for (var i = 0; i < 3; i++) await a.PushAsync(Blobs.Make(100), Token);
            await AssertRefused(MailboxErrorCode.MailboxQuota, () => a.PushAsync(Blobs.Make(100), Token));
        }
        var (b, _) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (b)
        {
            await b.PushAsync(Blobs.Make(4000), Token);
            await b.PushAsync(Blobs.Make(4000), Token);
            await AssertRefused(MailboxErrorCode.MailboxQuota, () => b.PushAsync(Blobs.Make(400), Token)); // 8,400 > 8 KiB
            // 8,300 bytes held + 6 x 128 overhead + 100 passes the 9,000-byte cap though the mailbox has room.
            await AssertRefused(MailboxErrorCode.ServerFull, () => b.PushAsync(Blobs.Make(100), Token));
        }
        await using var c = await harness.SessionAsync(Token);
        var third = Credentials.Random();
        await AssertRefused(MailboxErrorCode.ServerFull, () => c.OpenAsync(third.MailboxId, third.Capability, third.DeviceId, default, Token));
        Assert.That(harness.Store.Statistics, Is.EqualTo(harness.Store.Statistics with { Mailboxes = 2, Blobs = 5, Bytes = 8300 }));
    }

    [Test]
    public async Task Push_and_request_rates_are_limited_with_a_retry_hint()
    {
        await using var harness = await ServerHarness.StartAsync(o => o with { PushesPerMinute = 5, RequestsPerSecond = 1000 }, cancellationToken: Token);
        var credentials = Credentials.Random();
        var (session, _) = await harness.OpenAsync(credentials, Token);
        await using (session)
        {
            for (var i = 0; i < 5; i++) await session.PushAsync(Blobs.Make(), Token);
            var error = await AssertRefused(MailboxErrorCode.RateLimited, () => session.PushAsync(Blobs.Make(), Token));
            Assert.That(error.RetryAfter, Is.GreaterThan(TimeSpan.FromSeconds(5)).And.LessThanOrEqualTo(TimeSpan.FromSeconds(13)));
        }
        // The limit is per device, not per session.
        var (again, _) = await harness.OpenAsync(credentials, Token);
        await using (again) await AssertRefused(MailboxErrorCode.RateLimited, () => again.PushAsync(Blobs.Make(), Token));
        Assert.That(harness.Store.Statistics.Blobs, Is.EqualTo(5));

        await using var requests = await ServerHarness.StartAsync(o => o with { RequestsPerSecond = 3 }, cancellationToken: Token);
        var (chatty, _) = await requests.OpenAsync(Credentials.Random(), Token); // 1 request
        await using (chatty)
        {
            await chatty.PullAsync(0, 0, 0, 0, Token);
            await chatty.PullAsync(0, 0, 0, 0, Token);
            await AssertRefused(MailboxErrorCode.RateLimited, () => chatty.PullAsync(0, 0, 0, 0, Token));
        }
    }

    [Test]
    public async Task Sessions_over_the_cap_are_refused_TOO_MANY_SESSIONS()
    {
        await using var harness = await ServerHarness.StartAsync(o => o with { MaxSessions = 1 }, cancellationToken: Token);
        var (first, _) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (first)
        {
            await using var second = await harness.SessionAsync(Token);
            var c = Credentials.Random();
            Assert.That(async () => await second.OpenAsync(c.MailboxId, c.Capability, c.DeviceId, default, Token),
                Throws.InstanceOf<MailboxException>().With.Property(nameof(MailboxException.Code)).EqualTo(MailboxErrorCode.TooManySessions));
            Assert.That(harness.Server.SessionCount, Is.EqualTo(1));
        }
    }

    [Test]
    public async Task A_subscriber_hears_of_pushes_from_another_session()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        var credentials = Credentials.Random();
        var (listener, _) = await harness.OpenAsync(credentials, Token);
        var (pusher, _) = await harness.OpenAsync(credentials.OtherDevice(), Token);
        await using (listener)
        await using (pusher)
        {
            var position = await listener.SubscribeAsync(Token);
            Assert.That(position.MaxCursor, Is.Zero);
            for (var i = 0; i < 20; i++) await pusher.PushAsync(Blobs.Make(), Token);
            ulong seen = 0;
            while (seen < 20) seen = (await listener.Notifications.ReadAsync(Token)).MaxCursor;
            Assert.That(seen, Is.EqualTo(20));
        }
    }

    [Test]
    public async Task An_idle_session_is_closed_and_a_silent_stream_is_closed_before_open()
    {
        await using var harness = await ServerHarness.StartAsync(o => o with
        {
            OpenTimeout = TimeSpan.FromMilliseconds(300), IdleTimeout = TimeSpan.FromMilliseconds(300),
        }, cancellationToken: Token);
        await using var silent = await harness.SessionAsync(Token);
        await silent.Completion.WaitAsync(Token);
        var (idle, _) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (idle) await idle.Completion.WaitAsync(Token);
        Assert.That(harness.Server.SessionCount, Is.Zero);
    }

    [Test]
    public async Task A_client_that_pipelines_requests_but_never_reads_answers_is_cut_off()
    {
        await using var harness = await ServerHarness.StartAsync(o => o with
        {
            IdleTimeout = TimeSpan.FromMilliseconds(500), MaxInFlightPerSession = 8, RequestsPerSecond = 1_000_000,
        }, cancellationToken: Token);
        var raw = await harness.Pair.RawStreamAsync(Token);
        await using (raw)
        {
            // 40,000 answers (over 1 MiB) cannot fit the 256 KiB window the client never opens by reading.
            var requests = new System.Buffers.ArrayBufferWriter<byte>();
            for (var i = 1; i <= 40_000; i++) MailboxFrames.Write(requests, new Request { RequestId = (ulong)i, Pull = new Pull() });
            var writing = raw.Output.WriteAsync(requests.WrittenMemory, Token).AsTask();
            while (harness.Server.SessionCount > 0 || !writing.IsCompleted)
            {
                await Task.WhenAny(writing, Task.Delay(20, Token));
                if (writing.IsFaulted || writing.IsCanceled) break;
            }
            Assert.That(harness.Server.SessionCount, Is.Zero, "the server reset the stalled stream instead of holding its answers");
            try
            {
                await writing;
            }
            catch (IOException)
            {
                // The reset reached our half-done write.
            }
        }
        var (healthy, _) = await harness.OpenAsync(Credentials.Random(), Token);
        await using (healthy) Assert.That((await healthy.PushAsync(Blobs.Make(), Token)).Cursor, Is.EqualTo(1));
    }

    [Test]
    public async Task Stopping_answers_SHUTTING_DOWN_and_keeps_every_acknowledged_push()
    {
        var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        try
        {
            var (session, _) = await harness.OpenAsync(Credentials.Random(), Token);
            await using (session)
            {
                var pushes = Enumerable.Range(0, 200).Select(_ => session.PushAsync(Blobs.Make(), Token)).ToList();
                await harness.Server.DisposeAsync();
                var acked = 0;
                foreach (var push in pushes)
                {
                    try
                    {
                        await push;
                        acked++;
                    }
                    catch (MailboxException e)
                    {
                        Assert.That(e.Code, Is.EqualTo(MailboxErrorCode.ShuttingDown));
                    }
                    catch (IOException)
                    {
                        // Requests sent after the server's last answer see the stream end.
                    }
                }
                Assert.That(harness.Store.Statistics.Blobs, Is.GreaterThanOrEqualTo(acked));
            }
        }
        finally
        {
            await harness.DisposeAsync();
        }
    }

    private static byte[] Frame(Request request)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        MailboxFrames.Write(writer, request);
        return writer.WrittenSpan.ToArray();
    }

    internal static async Task<MailboxException> AssertRefused<T>(MailboxErrorCode code, Func<Task<T>> call)
    {
        try
        {
            await call();
        }
        catch (MailboxException e)
        {
            Assert.That(e.Code, Is.EqualTo(code), e.Message);
            return e;
        }
        Assert.Fail($"expected {code}");
        throw new InvalidOperationException();
    }
}
