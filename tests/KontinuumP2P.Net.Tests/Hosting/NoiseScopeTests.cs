using KontinuumP2P.Core.Resources;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Security;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>Issue #11: a connection's Noise receive buffers are charged to its scope when it opens and released when it closes.</summary>
[TestFixture]
[CancelAfter(240_000)]
public sealed class NoiseScopeTests
{
    // What NoiseSecureConnection charges with default options: the plaintext pipe's bound, one flush of overshoot, one frame of scratch.
    internal static readonly long NoiseCharge = new NoiseOptions().MaxBufferedBytes + (64 * 1024) + 65535;

    [Test]
    public async Task Both_ends_charge_the_noise_buffers_and_a_connection_scope_too_small_for_them_refuses_the_connection(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var (dialer, listener, _) = await hosts.ConnectedPairAsync(ct);
        Assert.That(dialer.Resources.PeerUsage(listener.PeerId).Memory, Is.GreaterThanOrEqualTo(NoiseCharge));
        // The listener may finish its side of the upgrade just after the dialer returns.
        await TestHosts.WaitUntilAsync(() => listener.Resources.PeerUsage(dialer.PeerId).Memory >= NoiseCharge, ct, 20_000);

        var small = await hosts.StartAsync(ct, o => new PeerHostOptions
        {
            Identity = o.Identity,
            Transports = o.Transports,
            ListenAddresses = o.ListenAddresses,
            ResourceLimits = new ResourceManagerOptions { Connection = new(Streams: 16, Memory: 1L << 20) },
        });
        // The dialer with the small connection scope refuses its own upgrade, naming the scope.
        var refused = Assert.ThrowsAsync<IOException>(async () => await small.DialAsync(TestHosts.AddressOf(listener), ct))!;
        Assert.That(refused.Message, Does.Contain("connection-memory").And.Contain("Noise buffers").And.Contain("1048576"));
        Assert.That((small.Resources.System.Memory, small.Resources.PeerScopes), Is.EqualTo((0L, 0)), "the refused connection holds nothing");
        // The listener is unharmed: the honest dialer still opens streams.
        await using var stream = await dialer.NewStreamAsync(listener.PeerId, [KontinuumP2P.Net.Protocols.EchoProtocol.Id], ct);
        await stream.Output.WriteAsync(new byte[] { 7 }, ct);
        var echoed = await stream.Input.ReadAsync(ct);
        Assert.That(echoed.Buffer.FirstSpan[0], Is.EqualTo(7));
        stream.Input.AdvanceTo(echoed.Buffer.End);
    }

    [Test]
    public async Task A_thousand_connect_disconnect_cycles_leave_every_scope_empty(CancellationToken ct)
    {
        await using var hosts = new TestHosts(TestNetwork.Tcp4);
        var listener = await hosts.StartAsync(ct);
        var dialers = new List<PeerHost>();
        for (var i = 0; i < 4; i++) dialers.Add(await hosts.StartAsync(ct));
        long peak = 0;
        var cycles = 0;
        await Task.WhenAll(dialers.Select(async dialer =>
        {
            for (var i = 0; i < 250; i++)
            {
                await dialer.DialAsync(TestHosts.AddressOf(listener), ct);
                Interlocked.Increment(ref cycles);
                // The dialer's side is upgraded (and charged) when DialAsync returns; the listener's may finish its
                // upgrade only after this sample, so the peak is over both sides.
                var held = Math.Max(listener.Resources.System.Memory, dialer.Resources.System.Memory);
                if (held > Interlocked.Read(ref peak)) Interlocked.Exchange(ref peak, held);
                await dialer.DisconnectAsync(listener.PeerId, ct);
            }
        }));
        Assert.That(cycles, Is.EqualTo(1000));
        Assert.That(peak, Is.GreaterThanOrEqualTo(NoiseCharge), "connections were charged while open");
        // Closing is asynchronous on the far side: wait for it, then nothing may remain anywhere.
        await TestHosts.WaitUntilAsync(() => listener.Resources.System.Memory == 0 && listener.Resources.PeerScopes == 0 && listener.Resources.System.Streams == 0
            && dialers.All(d => d.Resources.System.Memory == 0 && d.Resources.PeerScopes == 0 && d.Resources.System.Streams == 0), ct, 60_000);
        TestContext.Out.WriteLine($"1000 cycles: peak {peak} bytes charged on one host, 0 after on every host");
    }
}
