using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Tests.Wire;

/// <summary>RemoveDevice and Close over real hosts: round trips, idempotence, and each refusal.</summary>
[TestFixture]
public sealed class MailboxRemovalWireTests
{
    private CancellationTokenSource _timeout = null!;

    private CancellationToken Token => _timeout.Token;

    [SetUp]
    public void SetUp() => _timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

    [TearDown]
    public void TearDown() => _timeout.Dispose();

    private static MailboxErrorCode Refusal(AsyncTestDelegate action) => Assert.ThrowsAsync<MailboxException>(action)!.Code;

    [TestCase(false)]
    [TestCase(true)]
    public async Task Remove_device_round_trip_cuts_off_the_removed_session_and_refuses_its_reopen(bool tcp)
    {
        await using var harness = await ServerHarness.StartAsync(configure: o => o with { Store = o.Store with { Role = MailboxRole.Replica } }, tcp: tcp, cancellationToken: Token);
        var owner = Credentials.Random();
        var stolen = owner.OtherDevice();
        var (session, open) = await harness.OpenAsync(owner, Token);
        var (thief, _) = await harness.OpenAsync(stolen, Token);
        await using (session)
        await using (thief)
        {
            for (var i = 0; i < 10; i++) await session.PushAsync(Blobs.Make(), Token);
            Assert.That(await session.AckAsync(10, 0, Token), Is.EqualTo(10));

            var removal = await session.RemoveDeviceAsync(stolen.DeviceId, Token);
            Assert.That(removal, Is.EqualTo(new MailboxDeviceRemoval(true, 1)));
            Assert.That(await session.RemoveDeviceAsync(stolen.DeviceId, Token), Is.EqualTo(new MailboxDeviceRemoval(false, 1)), "idempotent");

            // The removed device's open session is refused from now on, distinctly.
            Assert.That(Refusal(() => thief.PullAsync(0, 0, 0, 0, Token)), Is.EqualTo(MailboxErrorCode.DeviceRemoved));
            Assert.That(Refusal(() => thief.AckAsync(10, 0, Token)), Is.EqualTo(MailboxErrorCode.DeviceRemoved));
            Assert.That(Refusal(() => thief.RemoveDeviceAsync(owner.DeviceId, Token)), Is.EqualTo(MailboxErrorCode.DeviceRemoved));
            Assert.That(Refusal(() => session.RemoveDeviceAsync(owner.DeviceId, Token)), Is.EqualTo(MailboxErrorCode.Unauthorized), "not itself");

            // Retention: only the owner counts now, so everything it acked goes.
            await harness.Store.RunCleanupAsync(Token);
            Assert.That(harness.Store.Statistics.Blobs, Is.Zero);
        }
        await using var reopen = await harness.SessionAsync(Token);
        Assert.That(Refusal(() => reopen.OpenAsync(stolen.MailboxId, stolen.Capability, stolen.DeviceId, ReadOnlyMemory<byte>.Empty, Token)),
            Is.EqualTo(MailboxErrorCode.DeviceRemoved));
    }

    [Test]
    public async Task Remove_device_and_close_before_open_are_refused_not_open_and_store_nothing()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        await using (var early = await harness.SessionAsync(Token))
        {
            Assert.That(Refusal(() => early.RemoveDeviceAsync(new byte[16], Token)), Is.EqualTo(MailboxErrorCode.NotOpen));
            Assert.That(Refusal(() => early.CloseMailboxAsync(Token)), Is.EqualTo(MailboxErrorCode.NotOpen));
        }
        Assert.That(harness.Store.Statistics.Mailboxes, Is.Zero, "nothing was created");
    }

    [Test]
    public async Task Close_round_trip_deletes_the_mailbox_cuts_off_other_sessions_and_tombstones_the_id()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        var owner = Credentials.Random();
        var (session, _) = await harness.OpenAsync(owner, Token);
        var (other, _) = await harness.OpenAsync(owner.OtherDevice(), Token);
        await using (session)
        await using (other)
        {
            for (var i = 0; i < 7; i++) await session.PushAsync(Blobs.Make(), Token);
            Assert.That(await session.CloseMailboxAsync(Token), Is.EqualTo(7));
            Assert.That(Refusal(() => session.PullAsync(0, 0, 0, 0, Token)), Is.EqualTo(MailboxErrorCode.MailboxClosed));
            Assert.That(Refusal(() => other.PullAsync(0, 0, 0, 0, Token)), Is.EqualTo(MailboxErrorCode.MailboxClosed));
            Assert.That(Refusal(() => other.PushAsync(Blobs.Make(), Token)), Is.EqualTo(MailboxErrorCode.MailboxClosed));
        }
        await using var reopen = await harness.SessionAsync(Token);
        Assert.That(Refusal(() => reopen.OpenAsync(owner.MailboxId, owner.Capability, owner.DeviceId, ReadOnlyMemory<byte>.Empty, Token)),
            Is.EqualTo(MailboxErrorCode.MailboxClosed));
        Assert.That(harness.Store.Statistics.Mailboxes, Is.Zero);
        Assert.That(harness.Store.Tombstones, Is.EqualTo(1));
    }

    [Test]
    public async Task Remove_device_with_a_bad_id_length_is_malformed_and_closes_only_that_stream()
    {
        await using var harness = await ServerHarness.StartAsync(cancellationToken: Token);
        var owner = Credentials.Random();
        var (good, _) = await harness.OpenAsync(owner, Token);
        await using (good)
        {
            var raw = await harness.Pair.RawStreamAsync(Token);
            await using (raw)
            {
                var writer = new System.Buffers.ArrayBufferWriter<byte>();
                MailboxFrames.Write(writer, new Request
                {
                    RequestId = 1,
                    Open = new Open
                    {
                        MailboxId = Google.Protobuf.ByteString.CopyFrom(owner.MailboxId),
                        Capability = Google.Protobuf.ByteString.CopyFrom(owner.Capability),
                        DeviceId = Google.Protobuf.ByteString.CopyFrom(owner.OtherDevice().DeviceId),
                    },
                });
                MailboxFrames.Write(writer, new Request { RequestId = 2, RemoveDevice = new RemoveDevice { DeviceId = Google.Protobuf.ByteString.CopyFrom(new byte[8]) } });
                await raw.Output.WriteAsync(writer.WrittenMemory, Token);
                var opened = await MailboxFrames.ReadAsync(raw.Input, Response.Parser, MailboxProtocol.MaxSmallFrameBytes, Token);
                Assert.That(opened!.BodyCase, Is.EqualTo(Response.BodyOneofCase.Open));
                var refused = await MailboxFrames.ReadAsync(raw.Input, Response.Parser, MailboxProtocol.MaxSmallFrameBytes, Token);
                Assert.That((refused!.RequestId, refused.Error.Code), Is.EqualTo((2UL, ErrorCode.Malformed)));
                Assert.That(await MailboxFrames.ReadAsync(raw.Input, Response.Parser, MailboxProtocol.MaxSmallFrameBytes, Token), Is.Null, "the stream is closed");
            }
            Assert.That(await good.RemoveDeviceAsync(owner.OtherDevice().DeviceId, Token), Is.EqualTo(new MailboxDeviceRemoval(false, 2)),
                "the other stream still works; a never-seen device is barred all the same");
        }
    }
}
