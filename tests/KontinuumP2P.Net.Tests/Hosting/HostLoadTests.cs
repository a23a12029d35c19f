using System.Security.Cryptography;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Tests.Transports;

namespace KontinuumP2P.Net.Tests.Hosting;

[TestFixture]
[CancelAfter(120_000)]
public sealed class HostLoadTests
{
    [TestCase(TestNetwork.Tcp4)]
    [TestCase(TestNetwork.Memory)]
    public async Task Hundred_concurrent_echo_streams_of_one_mebibyte_come_back_intact(TestNetwork network, CancellationToken ct)
    {
        const int streams = 100;
        const int size = 1 << 20;
        await using var hosts = new TestHosts(network);
        var (_, _, connection) = await hosts.ConnectedPairAsync(ct);

        var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(async i =>
        {
            var data = TransportTestKit.Pattern(size, 1000 + i);
            await using var stream = await connection.NewStreamAsync([EchoProtocol.Id], ct);
            var send = Task.Run(async () =>
            {
                // Several writes per stream so frames of different streams interleave on the connection.
                for (var offset = 0; offset < size; offset += 100_000)
                    await stream.Output.WriteAsync(data.AsMemory(offset, Math.Min(100_000, size - offset)), ct);
                await stream.Output.CompleteAsync();
            }, ct);
            var echoed = await TransportTestKit.ReadToEndAsync(stream.Input, size, ct);
            await send;
            return SHA256.HashData(echoed).SequenceEqual(SHA256.HashData(data)) && echoed.Length == size;
        }));

        Assert.That(results, Has.All.True);
        Assert.That(connection.IsClosed, Is.False);
    }
}
