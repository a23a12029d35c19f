using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Net.Discovery;
using KontinuumP2P.Net.Discovery.Mdns;
using KontinuumP2P.Testing;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>
/// Discovery's inner loops run under <see cref="BackgroundLoops"/>: named, a failure logged and counted in
/// <c>kontinuum.background.failures</c>, the loop restarted, and every loop awaited when the component stops.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DiscoveryLoopsTests
{
    [Test]
    [CancelAfter(30_000)]
    public async Task A_discovery_stream_that_throws_is_reported_counted_and_consumed_again_after_the_restart_delay(CancellationToken cancellationToken)
    {
        // The restart waits BackgroundLoops.RestartDelay (5 s) on the host's clock: the arming of that timer is the signal.
        var clock = new FakeTimeProvider();
        var restarts = new TimerWatch(clock, TimeSpan.FromSeconds(5));
        await using var host = new TcpTestHost(Ed25519Identity.Generate().PeerId, restarts);
        using var meters = new ScopedMeterFactory();
        using var counted = new FailureCounter(meters);
        var source = new FailingOnceDiscovery();
        var failed = new TaskCompletionSource<LoopFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var dialer = new DiscoveryDialer(host, source, meterFactory: meters);
        dialer.Loops.LoopFailed += (_, e) => failed.TrySetResult(e);
        try
        {
            dialer.Start();
            var failure = await failed.Task.WaitAsync(cancellationToken);
            Assert.That(failure.Loop, Is.EqualTo("consume"));
            Assert.That(failure.Exception.Message, Is.EqualTo("the discovery source broke"));
            Assert.That(counted.Tags, Is.EqualTo(new[] { ("discovery-dialer", "consume") }));

            await restarts.WaitForArmedAsync(1, cancellationToken);
            Assert.That(source.Subscriptions, Is.EqualTo(1), "not resubscribed before the restart delay");
            clock.Advance(TimeSpan.FromSeconds(5));
            await source.SecondSubscription.Task.WaitAsync(cancellationToken);
            Assert.That(dialer.Loops.Running, Is.EqualTo(new[] { "consume" }));
        }
        finally
        {
            await dialer.DisposeAsync();
        }
        Assert.That(dialer.Loops.Running, Is.Empty, "stop awaits the loop");
        Assert.That(source.SecondEnded, Is.True, "the resubscribed stream was cancelled at stop");
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task An_mdns_respond_loop_failure_is_reported_counted_and_the_loops_are_awaited_at_stop(CancellationToken cancellationToken)
    {
        using var ns = NetworkNamespace.Create();
        using var meters = new ScopedMeterFactory();
        using var counted = new FailureCounter(meters);
        var calls = 0;
        // The first response (to our own first query, looped back) asks for the addresses: that call throws.
        IReadOnlyList<Multiaddr> Addresses() => Interlocked.Increment(ref calls) == 1
            ? throw new InvalidOperationException("listen addresses unavailable")
            : [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")];
        var id = Ed25519Identity.Generate();
        var failed = new TaskCompletionSource<LoopFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var service = await ns.RunInsideAsync(() =>
        {
            var s = new MdnsService(id.PeerId, Addresses, meterFactory: meters);
            s.Loops.LoopFailed += (_, e) => failed.TrySetResult(e);
            s.Start();
            return s;
        });
        try
        {
            Assert.That(service.Loops.Running, Is.EquivalentTo(new[] { "receive", "respond", "query" }));
            var failure = await failed.Task.WaitAsync(cancellationToken);
            Assert.That(failure.Loop, Is.EqualTo("respond"));
            Assert.That(counted.Tags, Is.EqualTo(new[] { ("mdns", "respond") }));
            Assert.That(service.Loops.Running, Does.Contain("respond"), "a Restart loop waits to run again");
        }
        finally
        {
            await service.DisposeAsync();
        }
        Assert.That(service.Loops.Running, Is.Empty, "stop awaits every loop");
    }

    /// <summary>First subscription throws; the second stays open until cancelled.</summary>
    private sealed class FailingOnceDiscovery : IPeerDiscovery
    {
        private int _subscriptions;

        public int Subscriptions => Volatile.Read(ref _subscriptions);
        public TaskCompletionSource SecondSubscription { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool SecondEnded { get; private set; }

        public async IAsyncEnumerable<DiscoveredPeer> DiscoverAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _subscriptions) == 1) throw new InvalidOperationException("the discovery source broke");
            SecondSubscription.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                SecondEnded = true;
            }
            yield break;
        }
    }

    private sealed class ScopedMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            lock (_meters) _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                foreach (var meter in _meters) meter.Dispose();
            }
        }
    }

    /// <summary>The (owner, loop) tags of every <c>kontinuum.background.failures</c> increment from one meter factory.</summary>
    private sealed class FailureCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<(string, string)> _tags = [];

        public FailureCounter(IMeterFactory scope)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == scope && instrument.Name == "kontinuum.background.failures") l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
            {
                string owner = "", loop = "";
                foreach (var tag in tags)
                {
                    if (tag.Key == "owner") owner = (string)tag.Value!;
                    if (tag.Key == "loop") loop = (string)tag.Value!;
                }
                lock (_tags) _tags.Add((owner, loop));
            });
            _listener.Start();
        }

        public IReadOnlyList<(string Owner, string Loop)> Tags
        {
            get
            {
                lock (_tags) return [.. _tags];
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
