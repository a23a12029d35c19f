using System.Buffers;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>
/// A target host over TCP for a scripted hostile peer to attack, and an honest host that must still be served: the
/// shared setup of the adversarial suites.
/// </summary>
public abstract class HostileTargetFixture
{
    private TestHosts _hosts = null!;

    /// <summary>The host under attack.</summary>
    protected PeerHost Target { get; private set; } = null!;

    /// <summary>An honest peer of the target.</summary>
    protected PeerHost Honest { get; private set; } = null!;

    [SetUp]
    public async Task StartHostsAsync()
    {
        _hosts = new TestHosts(TestNetwork.Tcp4);
        Target = await _hosts.StartAsync(CancellationToken.None);
        Honest = await _hosts.StartAsync(CancellationToken.None);
    }

    [TearDown]
    public async Task StopHostsAsync() => await _hosts.DisposeAsync();

    /// <summary>The honest peer dials the target and gets an echo back.</summary>
    protected async Task AssertHonestServedAsync(CancellationToken ct)
    {
        await Honest.DialAsync(TestHosts.AddressOf(Target), ct);
        await using var stream = await Honest.NewStreamAsync(Target.PeerId, [EchoProtocol.Id], ct);
        await stream.Output.WriteAsync("honest"u8.ToArray(), ct);
        var result = await stream.Input.ReadAtLeastAsync(6, ct);
        Assert.That(result.Buffer.Slice(0, 6).ToArray(), Is.EqualTo("honest"u8.ToArray()));
        stream.Input.AdvanceTo(result.Buffer.End);
    }
}
