using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>
/// A length-prefixed message larger than the Yamux receive window arrives: the reader consumes the body as it comes,
/// so credit flows back before the whole message is there (it used to wait for all of it, which never came).
/// </summary>
public sealed class LargeMessageTests
{
    [TestCase(1 << 20)]
    [TestCase(4 << 20)]
    [CancelAfter(60_000)]
    public async Task A_message_larger_than_the_window_is_delivered(int size, CancellationToken cancellationToken)
    {
        var options = new YamuxOptions { PingOnStart = false };
        await using var pair = YamuxPair.Create(options, options);
        var client = await pair.Client.OpenStreamAsync(cancellationToken);
        var message = new byte[size];
        new Random(size).NextBytes(message);
        var writer = Task.Run(async () =>
        {
            await LengthPrefixed.WriteAsync(client.Output, message, cancellationToken);
            await LengthPrefixed.WriteAsync(client.Output, "after"u8.ToArray(), cancellationToken);
            await client.Output.CompleteAsync();
        }, cancellationToken);
        var server = (await pair.Server.AcceptStreamAsync(cancellationToken))!;

        var received = await LengthPrefixed.ReadAsync(server.Input, 4 << 20, cancellationToken);
        var next = await LengthPrefixed.ReadAsync(server.Input, 16, cancellationToken);
        await writer;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(size, Is.GreaterThan(YamuxOptions.SpecInitialWindow));
            Assert.That(received, Is.EqualTo(message));
            Assert.That(next, Is.EqualTo("after"u8.ToArray()), "bytes after the message stay in the reader");
        }
    }

    [Test]
    public async Task A_declared_length_allocates_nothing_until_bytes_arrive_and_truncation_is_an_error()
    {
        var pipe = new Pipe();
        // Declares 4 MiB, sends 10 bytes, ends.
        Varint.Write(pipe.Writer, 4 << 20);
        pipe.Writer.Write(new byte[10]);
        await pipe.Writer.FlushAsync();
        await pipe.Writer.CompleteAsync();
        Assert.That(async () => await LengthPrefixed.ReadAsync(pipe.Reader, 4 << 20, CancellationToken.None),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("ended inside"));

        var over = new Pipe();
        Varint.Write(over.Writer, (4 << 20) + 1);
        await over.Writer.FlushAsync();
        Assert.That(async () => await LengthPrefixed.ReadAsync(over.Reader, 4 << 20, CancellationToken.None),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("exceeds"));
    }
}
