using System.Threading.Channels;
using KontinuumP2P.Archive.Holders;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Archive.Tests.Holders;

/// <summary>The holder's announce loop on a fake clock: one announcement per interval, none after it is disposed.</summary>
[TestFixture]
public sealed class ArchiveHolderLoopTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-holder-loop-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    [CancelAfter(60_000)]
    public async Task The_announce_loop_ticks_once_per_interval_without_growing_and_stops_when_disposed(CancellationToken ct)
    {
        using var identity = Ed25519Identity.Generate();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = new PeerHost(new PeerHostOptions { Identity = identity, Transports = [new TcpTransport()] });
        var calls = Channel.CreateUnbounded<ReadOnlyMemory<byte>>();
        var server = ArchiveHolderServer.Start(host, new ArchiveHolderOptions { Directory = _dir, AnnounceInterval = TimeSpan.FromMinutes(1) },
            (_, _) => ValueTask.FromResult(false), (key, _) =>
            {
                calls.Writer.TryWrite(key);
                return Task.FromResult(1);
            }, timeProvider: time);
        Assert.That(host.Protocols, Does.Contain(ArchiveHolderProtocol.ProtocolId));
        var first = await calls.Reader.ReadAsync(ct);
        Assert.That(first.ToArray(), Is.EqualTo(ArchiveHolderProtocol.HoldersKey.ToArray()));

        // 500 intervals: exactly one announcement each, and the process does not grow with them.
        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 500; i++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            await calls.Reader.ReadAsync(ct);
        }
        Assert.That(calls.Reader.TryRead(out _), Is.False, "one announcement per interval");
        var growth = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.That(growth, Is.LessThan(4 << 20), $"grew {growth} bytes over 500 intervals");

        await server.DisposeAsync();
        Assert.That(host.Protocols, Does.Not.Contain(ArchiveHolderProtocol.ProtocolId));
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.That(calls.Reader.TryRead(out _), Is.False, "no announcement after the holder stopped");
    }
}
