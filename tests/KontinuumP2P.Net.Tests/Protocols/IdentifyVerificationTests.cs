using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Tests.Hosting;
using Microsoft.Extensions.Logging;

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
        using var identifyFailed = new IdentifyFailureWatch();
        var dialer = await hosts.StartAsync(ct, options => new PeerHostOptions
        {
            Identity = options.Identity,
            Transports = options.Transports,
            ListenAddresses = options.ListenAddresses,
            LoggerFactory = identifyFailed,
        });
        using var other = Ed25519Identity.Generate();
        liar.SetHandler(IdentifyProtocol.Id, async (stream, token) =>
            await IdentifyProtocol.WriteAsync(stream.Output,
                new IdentifyMessage(other.EncodedPublicKey, [], ["/fake/1.0.0"], null, IdentifyProtocol.ProtocolVersion, "liar/1"), token));
        var identified = 0;
        dialer.PeerIdentified += (_, _) => Interlocked.Increment(ref identified);

        var connection = await dialer.DialAsync(TestHosts.AddressOf(liar), ct);
        var rtts = await PingProtocol.PingAsync(dialer, liar.PeerId, 1, ct);
        // Identify (run on connect) has had its turn once the dialer logged why it refused the answer.
        Assert.That(await identifyFailed.Reason.WaitAsync(ct), Does.Contain("not the connection's peer"));

        Assert.That(rtts, Has.Count.EqualTo(1));
        Assert.That(Volatile.Read(ref identified), Is.Zero);
        var info = dialer.PeerStore.Get(liar.PeerId)!;
        Assert.That(info.Protocols, Does.Not.Contain("/fake/1.0.0"));
        Assert.That(info.AgentVersion, Is.Null);
        Assert.That(connection.IsClosed, Is.False);
    }

    /// <summary>Completes with the reason of the first "identify failed" log event (HostLog event 2008).</summary>
    private sealed class IdentifyFailureWatch : ILoggerFactory, ILogger
    {
        private readonly TaskCompletionSource<string> _reason = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<string> Reason => _reason.Task;

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 2008) _reason.TrySetResult(formatter(state, exception));
        }

        public void Dispose()
        {
        }
    }
}
