using System.IO.Pipelines;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Tests.Hosting;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>
/// Noise frames opened straight into a stream's receive pipe (<c>YamuxStream.TryDeliverFrame</c>) are opened outside
/// the stream's lock, so the reader's <c>AdvanceTo</c> does not wait for a decryption. A reset or a reader leaving
/// while a frame is being opened must still fail only that stream and return its credit.
/// </summary>
public sealed class YamuxFrameDeliveryTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private const string ResetAfterProtocol = "/test/reset-after/1.0.0";
    private const string LeaveAfterProtocol = "/test/leave-after/1.0.0";

    [Test, CancelAfter(120_000)]
    public async Task StreamsResetOrLeftWhileFramesArriveFailAloneAndTheConnectionCarriesOn(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var (_, listener, connection) = await hosts.ConnectedPairAsync(ct);
        // Reads 1 MiB, then resets its stream while the sender keeps sending: frames are being opened meanwhile.
        listener.SetHandler(ResetAfterProtocol, async (s, token) =>
        {
            await ReadAtLeastAsync(s.Input, 1 << 20, token);
            s.Output.Complete(new InvalidOperationException("the handler resets its stream"));
        });
        // Reads 1 MiB, then stops reading: later data is dropped and its credit must still go back to the sender.
        var left = 0;
        listener.SetHandler(LeaveAfterProtocol, async (s, token) =>
        {
            await ReadAtLeastAsync(s.Input, 1 << 20, token);
            await s.Input.CompleteAsync();
            Interlocked.Increment(ref left);
        });

        const int rounds = 8;
        const long perStream = 16L << 20;
        var outcomes = new List<string>();
        for (int round = 0; round < rounds; round++)
        {
            var reset = await connection.NewStreamAsync([ResetAfterProtocol], ct);
            var leave = await connection.NewStreamAsync([LeaveAfterProtocol], ct);
            var resetWriter = WriteUntilRefusedAsync(reset.Output, round, perStream, ct);
            var leaveWriter = YamuxInlineWriteTests.WritePatternFromBufferAsync(leave.Output, round + 100, perStream, 256 * 1024, ct);
            outcomes.Add(await resetWriter.WaitAsync(Bound, ct));
            // Without its credit back the sender would stall on the window long before 16 MiB.
            await leaveWriter.WaitAsync(Bound, ct);
            await reset.DisposeAsync();
            await leave.DisposeAsync();
        }

        // The connection still carries a stream, every byte intact.
        var echo = await connection.NewStreamAsync([KontinuumP2P.Net.Protocols.EchoProtocol.Id], ct);
        var data = new byte[4 << 20];
        YamuxTestData.Fill(data, 7, 0);
        var echoed = Task.Run(() => YamuxTestData.ReadToEndAsync(echo.Input, ct), ct);
        await echo.Output.WriteAsync(data, ct);
        await echo.Output.CompleteAsync();
        var back = await echoed.WaitAsync(Bound, ct);
        Assert.Multiple(() =>
        {
            Assert.That(outcomes, Is.All.EqualTo("reset"), "every reset stream ended with a reset, none hung");
            Assert.That(Volatile.Read(ref left), Is.EqualTo(rounds), "every leaving reader left");
            Assert.That(back.AsSpan().SequenceEqual(data), "the connection still carries a stream intact");
        });
    }

    private static async Task ReadAtLeastAsync(PipeReader input, long count, CancellationToken ct)
    {
        for (long got = 0; got < count;)
        {
            var result = await input.ReadAsync(ct);
            got += result.Buffer.Length;
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) throw new EndOfStreamException("the stream ended early");
        }
    }

    // "reset" when the remote's reset ended the writes, "completed" when all of it went through (the reset came late).
    private static async Task<string> WriteUntilRefusedAsync(PipeWriter output, int seed, long length, CancellationToken ct)
    {
        try
        {
            await YamuxInlineWriteTests.WritePatternFromBufferAsync(output, seed, length, 256 * 1024, ct);
            return "completed";
        }
        catch (Exception e) when (e is StreamResetException or IOException)
        {
            return "reset";
        }
    }
}
