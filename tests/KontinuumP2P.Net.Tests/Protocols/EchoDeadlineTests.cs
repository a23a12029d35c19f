using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Tests.Muxing;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Protocols;

/// <summary>An echo (ping) stream whose peer sends but never reads is reset at the write deadline, freeing its buffers.</summary>
public sealed class EchoDeadlineTests
{
    [Test, CancelAfter(60_000)]
    public async Task A_peer_that_stops_reading_has_its_echo_stream_reset(CancellationToken cancellationToken)
    {
        var options = new YamuxOptions { PingOnStart = false };
        await using var pair = YamuxPair.Create(options, options);
        var client = await pair.Client.OpenStreamAsync(cancellationToken);
        var time = new FakeTimeProvider();
        // The client writes 2 MiB and reads nothing: the echo fills the client's window, then its flush blocks.
        var writer = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            try
            {
                for (var i = 0; i < 32; i++) await client.Output.WriteAsync(chunk, cancellationToken);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                // The reset reaches the writer too.
            }
        }, cancellationToken);
        var server = (await pair.Server.AcceptStreamAsync(cancellationToken))!;
        var echo = StreamEcho.RunAsync(server, cancellationToken, time).AsTask();

        var advanced = TimeSpan.Zero;
        while (!echo.IsCompleted && advanced < TimeSpan.FromMinutes(5))
        {
            time.Advance(TimeSpan.FromSeconds(1));
            advanced += TimeSpan.FromSeconds(1);
            await Task.WhenAny(echo, Task.Delay(20, cancellationToken));
        }
        await echo;
        TestContext.Out.WriteLine($"echo reset after {advanced.TotalSeconds:0} s of fake time");
        Assert.That(advanced, Is.LessThanOrEqualTo(StreamEcho.IdleTimeout + StreamEcho.WriteTimeout), "the deadline, not the client, ended it");
        client.Reset();
        await writer;
    }
}
