using System.Buffers;
using System.Threading.Channels;
using Google.Protobuf;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Tests.Wire;

/// <summary>
/// Every message of the protocol through <see cref="MailboxSession"/> and the frame codec over real hosts, against a
/// scripted peer that records what it received and answers fixed values (the server's behaviour is tested elsewhere).
/// </summary>
[TestFixture]
public sealed class MailboxWireRoundTripTests
{
    private static readonly byte[] MailboxId = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] Capability = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] DeviceId = Enumerable.Range(200, 16).Select(i => (byte)i).ToArray();
    private static readonly byte[] ArchiveKey = Enumerable.Range(50, 32).Select(i => (byte)i).ToArray();

    [TestCase(false)]
    [TestCase(true)]
    public async Task Every_message_round_trips(bool tcp)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var pair = await HostPair.StartAsync(tcp, timeout.Token);
        var received = Channel.CreateUnbounded<Request>();
        pair.Server.SetHandler(MailboxProtocol.ProtocolId, (stream, ct) => ScriptedAsync(stream, received.Writer, ct));
        await using var session = await pair.SessionAsync(timeout.Token);

        var open = await session.OpenAsync(MailboxId, Capability, DeviceId, ArchiveKey, timeout.Token);
        var openRequest = await received.Reader.ReadAsync(timeout.Token);
        Assert.Multiple(() =>
        {
            Assert.That(openRequest.Open.MailboxId.ToByteArray(), Is.EqualTo(MailboxId));
            Assert.That(openRequest.Open.Capability.ToByteArray(), Is.EqualTo(Capability));
            Assert.That(openRequest.Open.DeviceId.ToByteArray(), Is.EqualTo(DeviceId));
            Assert.That(openRequest.Open.ArchiveKey.ToByteArray(), Is.EqualTo(ArchiveKey));
            Assert.That(openRequest.RequestId, Is.Not.Zero);
            Assert.That(open, Is.EqualTo(new MailboxOpenResult(0xDEADBEEF_01020304, 7, 3, 4,
                new MailboxLimits(1000, 2000, 30, 40, 5000, 60),
                new MailboxRetention(MailboxRole.Replica, TimeSpan.FromSeconds(70), TimeSpan.FromSeconds(80), TimeSpan.FromSeconds(90)))));
            Assert.That(session.OpenResult, Is.SameAs(open));
        });

        var blob = new byte[1024];
        Random.Shared.NextBytes(blob);
        var blobId = KontinuumP2P.Certs.Hashing.Blake3.Hash(blob);
        var push = await session.PushAsync(blob, blobId, 3600, timeout.Token);
        var pushRequest = await received.Reader.ReadAsync(timeout.Token);
        Assert.Multiple(() =>
        {
            Assert.That(pushRequest.Push.Blob.ToByteArray(), Is.EqualTo(blob));
            Assert.That(pushRequest.Push.BlobId.ToByteArray(), Is.EqualTo(blobId));
            Assert.That(pushRequest.Push.TtlSeconds, Is.EqualTo(3600));
            Assert.That(push, Is.EqualTo(new MailboxPushResult(8, true, 0xDEADBEEF_01020304)));
        });

        var pull = await session.PullAsync(5, 10, 4096, 0xDEADBEEF_01020304, timeout.Token);
        var pullRequest = await received.Reader.ReadAsync(timeout.Token);
        Assert.Multiple(() =>
        {
            Assert.That(pullRequest.Pull, Is.EqualTo(new Pull { AfterCursor = 5, Limit = 10, MaxBytes = 4096, Epoch = 0xDEADBEEF_01020304 }));
            Assert.That(pull.HasMore, Is.True);
            Assert.That(pull.MaxCursor, Is.EqualTo(9));
            Assert.That(pull.Epoch, Is.EqualTo(0xDEADBEEF_01020304));
            Assert.That(pull.Blobs.Select(b => b.Cursor), Is.EqualTo(new ulong[] { 6, 7 }));
            Assert.That(pull.Blobs[1].Data.ToArray(), Is.EqualTo(new byte[] { 7, 7, 7 }));
            Assert.That(pull.Blobs[1].BlobId.ToArray(), Is.EqualTo(Enumerable.Repeat((byte)7, 32).ToArray()));
        });

        var acked = await session.AckAsync(6, 0xDEADBEEF_01020304, timeout.Token);
        var ackRequest = await received.Reader.ReadAsync(timeout.Token);
        Assert.That(ackRequest.Ack, Is.EqualTo(new Ack { UpToCursor = 6, Epoch = 0xDEADBEEF_01020304 }));
        Assert.That(acked, Is.EqualTo(6));

        var position = await session.SubscribeAsync(timeout.Token);
        Assert.That((await received.Reader.ReadAsync(timeout.Token)).BodyCase, Is.EqualTo(Request.BodyOneofCase.Subscribe));
        Assert.That(position, Is.EqualTo(new MailboxNotification(9, 0xDEADBEEF_01020304)));
        Assert.That(await session.Notifications.ReadAsync(timeout.Token), Is.EqualTo(new MailboxNotification(10, 0xDEADBEEF_01020304)));

        // Every refusal code reaches the caller as a typed exception with its retry hint and epoch.
        foreach (var code in Enum.GetValues<MailboxErrorCode>().Where(c => c != MailboxErrorCode.Unspecified))
        {
            var error = Assert.ThrowsAsync<MailboxException>(async () => await session.AckAsync(1000 + (ulong)code, 0, timeout.Token));
            Assert.That(error!.Code, Is.EqualTo(code));
            Assert.That(error.RetryAfter, Is.EqualTo(TimeSpan.FromMilliseconds(250)));
            Assert.That(error.Epoch, Is.EqualTo(42));
        }
    }

    [Test]
    public async Task Pipelined_requests_are_matched_by_request_id_even_when_answered_out_of_order()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var pair = await HostPair.StartAsync(false, timeout.Token);
        pair.Server.SetHandler(MailboxProtocol.ProtocolId, ReversingAsync);
        await using var session = await pair.SessionAsync(timeout.Token);
        var acks = Enumerable.Range(1, 8).Select(i => session.AckAsync((ulong)i, 0, timeout.Token)).ToArray();
        Assert.That(await Task.WhenAll(acks), Is.EqualTo(Enumerable.Range(1, 8).Select(i => (ulong)i * 10).ToArray()));
    }

    [Test]
    public async Task An_oversized_answer_frame_ends_the_session_with_an_error_not_an_allocation()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var pair = await HostPair.StartAsync(false, timeout.Token);
        pair.Server.SetHandler(MailboxProtocol.ProtocolId, async (stream, ct) =>
        {
            await MailboxFrames.ReadAsync(stream.Input, Request.Parser, MailboxProtocol.MaxRequestFrameBytes, ct);
            // Declares 1 GiB before Open has raised the cap above 64 KiB.
            await stream.Output.WriteAsync(Varint.Encode(1UL << 30), ct);
            await stream.Input.ReadAsync(ct);
        });
        await using var session = await pair.SessionAsync(timeout.Token);
        var error = Assert.ThrowsAsync<IOException>(async () => await session.AckAsync(1, 0, timeout.Token));
        Assert.That(error!.Message, Does.Contain("limit"));
        await session.Completion.WaitAsync(timeout.Token);
    }

    [Test]
    public void Frame_codec_refuses_a_length_over_the_cap_before_buffering_and_garbage_after_it()
    {
        var pipe = new System.IO.Pipelines.Pipe();
        pipe.Writer.Write(Varint.Encode(MailboxProtocol.MaxRequestFrameBytes + 1UL));
        pipe.Writer.FlushAsync().AsTask().Wait();
        Assert.ThrowsAsync<InvalidDataException>(async () =>
            await MailboxFrames.ReadAsync(pipe.Reader, Request.Parser, MailboxProtocol.MaxRequestFrameBytes, CancellationToken.None));

        var garbage = new System.IO.Pipelines.Pipe();
        garbage.Writer.Write(new byte[] { 3, 0xFF, 0xFF, 0xFF });
        garbage.Writer.Complete();
        Assert.ThrowsAsync<InvalidDataException>(async () =>
            await MailboxFrames.ReadAsync(garbage.Reader, Request.Parser, 100, CancellationToken.None));
    }

    private static async ValueTask ScriptedAsync(IP2PStream stream, ChannelWriter<Request> received, CancellationToken cancellationToken)
    {
        const ulong epoch = 0xDEADBEEF_01020304;
        while (await MailboxFrames.ReadAsync(stream.Input, Request.Parser, MailboxProtocol.MaxRequestFrameBytes, cancellationToken) is { } request)
        {
            if (request.BodyCase != Request.BodyOneofCase.Ack || request.Ack.UpToCursor < 1000) received.TryWrite(request);
            var response = new Response { RequestId = request.RequestId };
            switch (request.BodyCase)
            {
                case Request.BodyOneofCase.Open:
                    response.Open = new OpenResult
                    {
                        Epoch = epoch, MaxCursor = 7, Pending = 3, AckedUpTo = 4,
                        Limits = MailboxWireMapping.ToWire(new MailboxLimits(1000, 2000, 30, 40, 5000, 60)),
                        Retention = MailboxWireMapping.ToWire(new MailboxRetention(MailboxRole.Replica, TimeSpan.FromSeconds(70),
                            TimeSpan.FromSeconds(80), TimeSpan.FromSeconds(90))),
                    };
                    break;
                case Request.BodyOneofCase.Push:
                    response.Push = new PushResult { Cursor = 8, Duplicate = true, Epoch = epoch };
                    break;
                case Request.BodyOneofCase.Pull:
                    response.Pull = new PullResult { HasMore = true, MaxCursor = 9, Epoch = epoch };
                    response.Pull.Blobs.Add(new Blob { Cursor = 6, BlobId = ByteString.CopyFrom(new byte[32]), Data = ByteString.CopyFrom(6, 6) });
                    response.Pull.Blobs.Add(new Blob { Cursor = 7, BlobId = ByteString.CopyFrom(Enumerable.Repeat((byte)7, 32).ToArray()), Data = ByteString.CopyFrom(7, 7, 7) });
                    break;
                case Request.BodyOneofCase.Ack when request.Ack.UpToCursor >= 1000:
                    response.Error = new Error { Code = (ErrorCode)(int)(request.Ack.UpToCursor - 1000), Message = "scripted", RetryAfterMs = 250, Epoch = 42 };
                    break;
                case Request.BodyOneofCase.Ack:
                    response.Ack = new AckResult { AckedUpTo = request.Ack.UpToCursor };
                    break;
                case Request.BodyOneofCase.Subscribe:
                    response.Subscribe = new SubscribeResult { MaxCursor = 9, Epoch = epoch };
                    MailboxFrames.Write(stream.Output, response);
                    response = new Response { Notify = new Notify { MaxCursor = 10, Epoch = epoch } };
                    break;
            }
            await MailboxFrames.WriteAsync(stream.Output, response, cancellationToken);
        }
        await stream.Output.CompleteAsync();
    }

    private static async ValueTask ReversingAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        var batch = new List<Request>();
        while (batch.Count < 8
            && await MailboxFrames.ReadAsync(stream.Input, Request.Parser, MailboxProtocol.MaxRequestFrameBytes, cancellationToken) is { } request)
        {
            batch.Add(request);
        }
        batch.Reverse();
        foreach (var request in batch)
        {
            MailboxFrames.Write(stream.Output, new Response { RequestId = request.RequestId, Ack = new AckResult { AckedUpTo = request.Ack.UpToCursor * 10 } });
        }
        await stream.Output.FlushAsync(cancellationToken);
        await stream.Output.CompleteAsync();
    }
}
