using System.Threading.Channels;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Threading;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Devnet;
using KontinuumP2P.Node.Hosting;
using KontinuumP2P.Node.Records;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Node.Tests;

/// <summary>The node's periodic work survives a failed round and is stopped with the node.</summary>
[CancelAfter(60_000)]
public class BackgroundWorkTests
{
    [Test]
    public async Task A_republish_refused_once_is_reported_and_the_next_interval_publishes_again(CancellationToken cancellationToken)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var authority = new DevnetAuthority("background-test", 3, 2, time);
        using var identity = Ed25519Identity.Generate();
        var flaky = new FlakyValidator();
        var node = await new KontinuumNodeBuilder(new KontinuumNodeOptions
        {
            Identity = identity,
            Network = authority.Network,
            Certificate = authority.IssueCertificate(identity, TimeSpan.FromDays(30)),
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            NodeRecordRepublishInterval = TimeSpan.FromHours(1),
            CrlRefreshInterval = TimeSpan.Zero,
            ConfigureDht = dht => dht with { Validators = new RecordValidators().Add(RecordKeys.NodeNamespace, flaky.Wrap(dht.Validators)) },
        }).UseTimeProvider(time).StartAsync(cancellationToken);
        await using (node)
        {
            var failures = Channel.CreateUnbounded<LoopFailedEventArgs>();
            node.Loops.LoopFailed += (_, e) => failures.Writer.TryWrite(e);
            Assert.That(await flaky.Validated.Reader.ReadAsync(cancellationToken), Is.True, "the record was published at start");
            var first = node.RecordSequence;

            flaky.RefuseNext = true;
            time.Advance(TimeSpan.FromHours(1));
            Assert.That(await flaky.Validated.Reader.ReadAsync(cancellationToken), Is.False);
            var failure = await failures.Reader.ReadAsync(cancellationToken);
            Assert.Multiple(() =>
            {
                Assert.That(failure.Loop, Is.EqualTo("record-republish"));
                Assert.That(failure.Exception, Is.TypeOf<InvalidRecordException>());
                Assert.That(node.Loops.Running, Does.Contain("record-republish"), "the loop survives the failed round");
            });

            time.Advance(TimeSpan.FromHours(1));
            Assert.That(await flaky.Validated.Reader.ReadAsync(cancellationToken), Is.True, "the next interval publishes again");
            Assert.That(node.RecordSequence, Is.EqualTo(first + 2));
        }
        Assert.That(node.Loops.Running, Is.Empty, "disposing the node stopped and awaited its loops");
    }

    /// <summary>The node's own validator, refusing one record when told to; reports each verdict.</summary>
    private sealed class FlakyValidator
    {
        public bool RefuseNext { get; set; }

        public Channel<bool> Validated { get; } = Channel.CreateUnbounded<bool>();

        public IRecordValidator Wrap(RecordValidators inner) => new Wrapper(this, inner);

        private sealed class Wrapper(FlakyValidator owner, RecordValidators inner) : IRecordValidator
        {
            public RecordValidationResult Validate(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> value)
            {
                var result = owner.RefuseNext ? RecordValidationResult.Invalid("refused-by-test") : inner.Validate(key, value);
                owner.RefuseNext = false;
                owner.Validated.Writer.TryWrite(result.IsValid);
                return result;
            }

            public int Select(ReadOnlyMemory<byte> key, IReadOnlyList<ReadOnlyMemory<byte>> values) => inner.Select(key, values);
        }
    }
}
