using KontinuumP2P.Net.Muxing;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>
/// Window growth before a round trip is measured (#16): a bulk transfer that starts at once must not stay at the
/// spec's 256 KiB window. Time is a fake clock, so "fast" and "slow" readers are exact.
/// </summary>
public sealed class YamuxWindowTuningTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [TestCase(0, ExpectedResult = 4 << 20)]
    [TestCase(1000, ExpectedResult = YamuxOptions.SpecInitialWindow)]
    [CancelAfter(30_000)]
    public async Task<long> WindowGrowsWithoutAnRttWhenTheReaderKeepsUpAndNotWhenItIsSlow(int millisecondsPerRead, CancellationToken ct)
    {
        var clock = new FakeTimeProvider();
        // No start ping: the round trip stays unmeasured for the whole transfer.
        var options = new YamuxOptions { PingOnStart = false, MaxStreamWindow = 4 << 20, TimeProvider = clock };
        await using var pair = YamuxPair.Create(options, options);
        var client = await pair.Client.OpenStreamAsync(ct);
        var write = YamuxTestData.WritePatternAsync(client.Output, 5, 24 << 20, 256 * 1024, ct);
        var server = (YamuxStream)(await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        long maxWindow = 0, maxBuffered = 0, received = 0;
        while (true)
        {
            var result = await server.Input.ReadAsync(ct);
            maxBuffered = Math.Max(maxBuffered, result.Buffer.Length);
            received += result.Buffer.Length;
            // A slow reader spends a second (more than 4 assumed round trips) on every read.
            clock.Advance(TimeSpan.FromMilliseconds(millisecondsPerRead));
            server.Input.AdvanceTo(result.Buffer.End);
            maxWindow = Math.Max(maxWindow, server.ReceiveWindow);
            if (result.IsCompleted) break;
        }
        await write.WaitAsync(Bound, ct);
        Assert.That(pair.Server.RoundTripTime, Is.EqualTo(TimeSpan.Zero), "no round trip was measured");
        Assert.That(received, Is.EqualTo(24L << 20));
        Assert.That(maxBuffered, Is.LessThanOrEqualTo(maxWindow), "never more buffered than granted");
        return maxWindow;
    }
}
