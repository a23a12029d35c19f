using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Net.Tests.Transports;

[TestFixture]
[CancelAfter(10_000)]
public sealed class MemoryTransportTests
{
    [Test]
    public async Task Dial_reaches_the_listener_and_carries_bytes_with_fin(CancellationToken ct)
    {
        var network = new MemoryNetwork();
        var a = new MemoryTransport(network);
        var b = new MemoryTransport(network);
        await using var listener = await b.ListenAsync(Multiaddr.Parse("/memory/b"), ct);
        Assert.That(listener.ListenAddress.ToString(), Is.EqualTo("/memory/b"));
        var accept = listener.AcceptAsync(ct).AsTask();
        await using var dialed = await a.DialAsync(Multiaddr.Parse("/memory/b"), ct);
        await using var accepted = await accept;
        Assert.That(accepted.RemoteAddress, Is.EqualTo(dialed.LocalAddress));

        var data = TransportTestKit.Pattern(2_500_000, 3);
        var send = Task.Run(async () => { await dialed.Output.WriteAsync(data, ct); await dialed.Output.CompleteAsync(); }, ct);
        Assert.That(await TransportTestKit.ReadToEndAsync(accepted.Input, data.Length, ct), Is.EqualTo(data));
        await send;
    }

    [Test]
    public async Task Names_are_exclusive_per_network_and_freed_on_dispose(CancellationToken ct)
    {
        var network = new MemoryNetwork();
        var transport = new MemoryTransport(network);
        var first = await transport.ListenAsync(Multiaddr.Parse("/memory/x"), ct);
        Assert.That(async () => await transport.ListenAsync(Multiaddr.Parse("/memory/x"), ct), Throws.InstanceOf<IOException>());
        // Another network is another namespace: no process-wide registry.
        await using var elsewhere = await new MemoryTransport(new MemoryNetwork()).ListenAsync(Multiaddr.Parse("/memory/x"), ct);
        await first.DisposeAsync();
        Assert.That(network.ListenerNames, Is.Empty);
        Assert.That(async () => await transport.DialAsync(Multiaddr.Parse("/memory/x"), ct), Throws.InstanceOf<IOException>().With.Message.Contains("refused"));
        await using var again = await transport.ListenAsync(Multiaddr.Parse("/memory/x"), ct);
    }

    [Test]
    public async Task Full_backlog_refuses_dials(CancellationToken ct)
    {
        var network = new MemoryNetwork { AcceptBacklog = 2 };
        var transport = new MemoryTransport(network);
        await using var listener = await transport.ListenAsync(Multiaddr.Parse("/memory/busy"), ct);
        await transport.DialAsync(Multiaddr.Parse("/memory/busy"), ct);
        await transport.DialAsync(Multiaddr.Parse("/memory/busy"), ct);
        Assert.That(async () => await transport.DialAsync(Multiaddr.Parse("/memory/busy"), ct), Throws.InstanceOf<IOException>());
    }

    [Test]
    public void Address_shapes()
    {
        var transport = new MemoryTransport(new MemoryNetwork());
        Assert.That(transport.CanDial(Multiaddr.Parse("/memory/a")), Is.True);
        Assert.That(transport.CanDial(Multiaddr.Parse("/memory/a/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")), Is.True);
        Assert.That(transport.CanListen(Multiaddr.Parse("/memory/a/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")), Is.False);
        Assert.That(transport.CanDial(Multiaddr.Parse("/ip4/127.0.0.1/tcp/1")), Is.False);
    }

    [Test]
    public async Task A_subclass_shapes_links(CancellationToken ct)
    {
        var network = new CountingNetwork();
        var transport = new MemoryTransport(network);
        await using var listener = await transport.ListenAsync(Multiaddr.Parse("/memory/s"), ct);
        await using var dialed = await transport.DialAsync(Multiaddr.Parse("/memory/s"), ct);
        Assert.That(network.Links, Is.EqualTo(1));
    }

    private sealed class CountingNetwork : MemoryNetwork
    {
        public int Links;

        protected override (KontinuumP2P.Core.Network.ITransportConnection Dialer, KontinuumP2P.Core.Network.ITransportConnection Listener)
            CreateLink(Multiaddr dialerAddress, Multiaddr listenerAddress)
        {
            Links++;
            return base.CreateLink(dialerAddress, listenerAddress);
        }
    }
}
