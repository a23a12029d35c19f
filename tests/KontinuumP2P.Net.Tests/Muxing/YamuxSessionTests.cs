using System.Text;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;

namespace KontinuumP2P.Net.Tests.Muxing;

public sealed class YamuxSessionTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Test, CancelAfter(20_000)]
    public async Task OpenAcceptAndEchoOneStream(CancellationToken ct)
    {
        await using var pair = YamuxPair.Create();
        var client = await pair.Client.OpenStreamAsync(ct);
        var serverTask = pair.Server.AcceptStreamAsync(ct).AsTask();
        await client.Output.WriteAsync(Encoding.ASCII.GetBytes("hello yamux"), ct);
        await client.Output.CompleteAsync();
        var server = await serverTask.WaitAsync(Bound, ct);
        Assert.That(server, Is.Not.Null);
        var received = await YamuxTestData.ReadToEndAsync(server!.Input, ct).WaitAsync(Bound, ct);
        await server.Output.WriteAsync(received, ct);
        await server.Output.CompleteAsync();
        var echoed = await YamuxTestData.ReadToEndAsync(client.Input, ct).WaitAsync(Bound, ct);
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.ASCII.GetString(echoed), Is.EqualTo("hello yamux"));
            Assert.That(client.Id, Is.EqualTo(1u));
            Assert.That(server.Id, Is.EqualTo(1u));
        });
        await YamuxTestData.EventuallyAsync(() => pair.Client.ActiveStreams == 0 && pair.Server.ActiveStreams == 0, Bound, ct);
        Assert.That((pair.Client.ActiveStreams, pair.Server.ActiveStreams), Is.EqualTo((0, 0)), "both FINs free the ids");
    }

    [Test, CancelAfter(20_000)]
    public async Task StreamIdsFollowDialDirectionAndNeverRepeat(CancellationToken ct)
    {
        await using var pair = YamuxPair.Create();
        var clientIds = new List<uint>();
        var serverIds = new List<uint>();
        for (int i = 0; i < 3; i++)
        {
            var c = await pair.Client.OpenStreamAsync(ct);
            clientIds.Add(c.Id);
            c.Reset();
            var s = await pair.Server.OpenStreamAsync(ct);
            serverIds.Add(s.Id);
            s.Reset();
        }
        Assert.That(clientIds, Is.EqualTo(new uint[] { 1, 3, 5 }));
        Assert.That(serverIds, Is.EqualTo(new uint[] { 2, 4, 6 }));
    }

    [Test, CancelAfter(120_000)]
    public async Task HundredConcurrentStreamsOfOneMebibyteBothWays(CancellationToken ct)
    {
        const int streams = 100;
        const int size = 1 << 20;
        await using var pair = YamuxPair.Create();
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var echo = Task.Run(async () =>
        {
            var handlers = new List<Task>();
            for (int i = 0; i < streams; i++)
            {
                var s = await pair.Server.AcceptStreamAsync(ct) ?? throw new IOException("session ended");
                handlers.Add(Task.Run(async () =>
                {
                    // Echo while reading, so both directions are busy at once.
                    while (true)
                    {
                        var result = await s.Input.ReadAsync(ct);
                        foreach (var segment in result.Buffer) await s.Output.WriteAsync(segment, ct);
                        s.Input.AdvanceTo(result.Buffer.End);
                        if (result.IsCompleted) break;
                    }
                    await s.Output.CompleteAsync();
                }, ct));
            }
            await Task.WhenAll(handlers);
        }, ct);

        var clients = Enumerable.Range(0, streams).Select(i => Task.Run(async () =>
        {
            var s = await pair.Client.OpenStreamAsync(ct);
            var write = YamuxTestData.WritePatternAsync(s.Output, i, size, 64 * 1024, ct);
            long echoed = await YamuxTestData.VerifyPatternAsync(s.Input, i, ct);
            await write;
            return echoed;
        }, ct)).ToArray();

        var results = await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(100), ct);
        await echo.WaitAsync(Bound, ct);
        cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
        TestContext.Out.WriteLine($"{streams} x {size >> 20} MiB echoed in {wall.ElapsedMilliseconds} ms wall, {cpu.TotalMilliseconds:F0} ms CPU");
        Assert.That(results, Has.All.EqualTo(size), "every stream echoed its own 1 MiB unchanged");
        await YamuxTestData.EventuallyAsync(() => pair.Client.ActiveStreams == 0 && pair.Server.ActiveStreams == 0, Bound, ct);
        Assert.That((pair.Client.ActiveStreams, pair.Server.ActiveStreams), Is.EqualTo((0, 0)));
    }

    [Test, CancelAfter(20_000)]
    public async Task HalfCloseLetsTheOtherDirectionContinue(CancellationToken ct)
    {
        await using var pair = YamuxPair.Create();
        var client = await pair.Client.OpenStreamAsync(ct);
        await client.Output.WriteAsync("request"u8.ToArray(), ct);
        await client.Output.CompleteAsync();
        var server = (await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;

        var request = await YamuxTestData.ReadToEndAsync(server.Input, ct).WaitAsync(Bound, ct);
        Assert.That(Encoding.ASCII.GetString(request), Is.EqualTo("request"));
        Assert.That(pair.Server.ActiveStreams, Is.EqualTo(1), "only one FIN seen: the stream stays open");

        // After the remote's FIN our side still writes, several times.
        for (int i = 0; i < 3; i++) await server.Output.WriteAsync(Encoding.ASCII.GetBytes($"part{i};"), ct);
        await server.Output.CompleteAsync();
        var response = await YamuxTestData.ReadToEndAsync(client.Input, ct).WaitAsync(Bound, ct);
        Assert.That(Encoding.ASCII.GetString(response), Is.EqualTo("part0;part1;part2;"));
        await YamuxTestData.EventuallyAsync(() => pair.Server.ActiveStreams == 0 && pair.Client.ActiveStreams == 0, Bound, ct);
        Assert.That((pair.Client.ActiveStreams, pair.Server.ActiveStreams), Is.EqualTo((0, 0)));
    }

    [Test, CancelAfter(20_000)]
    public async Task ResetByOpenerFailsTheAcceptorBothWays(CancellationToken ct)
    {
        await using var pair = YamuxPair.Create();
        var client = await pair.Client.OpenStreamAsync(ct);
        await client.Output.WriteAsync("x"u8.ToArray(), ct);
        var server = (await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        var first = await server.Input.ReadAsync(ct);
        server.Input.AdvanceTo(first.Buffer.End);

        client.Reset();
        Assert.ThrowsAsync<StreamResetException>(async () =>
        {
            while (true)
            {
                var r = await server.Input.ReadAsync(ct);
                server.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted) return;
            }
        });
        Assert.ThrowsAsync<StreamResetException>(async () => await server.Output.WriteAsync("y"u8.ToArray(), ct));
        Assert.ThrowsAsync<StreamResetException>(async () => await client.Input.ReadAsync(ct));
        await YamuxTestData.EventuallyAsync(() => pair.Server.ActiveStreams == 0, Bound, ct);
        Assert.That((pair.Client.ActiveStreams, pair.Server.ActiveStreams), Is.EqualTo((0, 0)));
    }

    [Test, CancelAfter(20_000)]
    public async Task ResetByAcceptorFailsTheOpener(CancellationToken ct)
    {
        await using var pair = YamuxPair.Create();
        var client = await pair.Client.OpenStreamAsync(ct);
        var server = (await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        server.Reset();
        Assert.ThrowsAsync<StreamResetException>(async () => await client.Input.ReadAsync(ct).AsTask().WaitAsync(Bound, ct));
        // The writer notices as soon as it flushes.
        Assert.ThrowsAsync<StreamResetException>(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await client.Output.WriteAsync(new byte[1024], ct);
                await Task.Delay(5, ct);
            }
        });
        Assert.That(pair.Client.ActiveStreams, Is.EqualTo(0));
    }

    [Test, CancelAfter(20_000)]
    public async Task PingsAreAnsweredAndMeasureTheRoundTrip(CancellationToken ct)
    {
        await using var pair = YamuxPair.Create(new YamuxOptions { PingOnStart = true });
        await YamuxTestData.EventuallyAsync(() => pair.Client.RoundTripTime > TimeSpan.Zero, Bound, ct);
        Assert.That(pair.Client.RoundTripTime, Is.GreaterThan(TimeSpan.Zero));
        Assert.That(pair.Client.Completion.IsCompleted, Is.False);
    }

    [Test, CancelAfter(20_000)]
    public async Task CloseSendsGoAwayAndEndsBothSessions(CancellationToken ct)
    {
        await using var pair = YamuxPair.Create();
        var stream = await pair.Client.OpenStreamAsync(ct);
        var accepted = (await pair.Server.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
        await pair.Client.CloseAsync(ct).AsTask().WaitAsync(Bound, ct);
        await pair.Server.Completion.WaitAsync(Bound, ct);
        Assert.Multiple(() =>
        {
            Assert.That(pair.Server.RemoteGoAway, Is.True);
            Assert.That(pair.Client.ActiveStreams, Is.Zero);
            Assert.That(pair.Server.ActiveStreams, Is.Zero);
        });
        Assert.ThrowsAsync<IOException>(async () => await pair.Client.OpenStreamAsync(ct));
        Assert.That(await pair.Server.AcceptStreamAsync(ct), Is.Null);
        Assert.ThrowsAsync<StreamResetException>(async () => await accepted.Input.ReadAsync(ct));
        Assert.ThrowsAsync<StreamResetException>(async () => await stream.Input.ReadAsync(ct));
    }
}
