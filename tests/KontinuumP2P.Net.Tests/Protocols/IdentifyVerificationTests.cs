using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Tests.Hosting;

namespace KontinuumP2P.Net.Tests.Protocols;

[TestFixture]
[CancelAfter(20_000)]
public sealed class IdentifyVerificationTests
{
    [Test]
    public async Task An_identify_answer_with_someone_elses_key_is_not_believed(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Memory);
        var liar = await hosts.StartAsync(ct);
        var dialer = await hosts.StartAsync(ct);
        using var other = Ed25519Identity.Generate();
        liar.SetHandler(IdentifyProtocol.Id, async (stream, token) =>
            await IdentifyProtocol.WriteAsync(stream.Output,
                new IdentifyMessage(other.EncodedPublicKey, [], ["/fake/1.0.0"], null, IdentifyProtocol.ProtocolVersion, "liar/1"), token));
        var identified = 0;
        dialer.PeerIdentified += (_, _) => Interlocked.Increment(ref identified);

        var connection = await dialer.DialAsync(TestHosts.AddressOf(liar), ct);
        // Use the connection once so identify has certainly had its turn (it runs on connect).
        var rtts = await PingProtocol.PingAsync(dialer, liar.PeerId, 1, ct);
        await Task.Delay(200, ct);

        Assert.That(rtts, Has.Count.EqualTo(1));
        Assert.That(Volatile.Read(ref identified), Is.Zero);
        var info = dialer.PeerStore.Get(liar.PeerId)!;
        Assert.That(info.Protocols, Does.Not.Contain("/fake/1.0.0"));
        Assert.That(info.AgentVersion, Is.Null);
        Assert.That(connection.IsClosed, Is.False);
    }
}
