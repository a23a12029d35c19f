using Google.Protobuf;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Health.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>Settings of <see cref="HealthService"/>.</summary>
public sealed record HealthServiceOptions
{
    /// <summary>Escalation thresholds.</summary>
    public HealthMonitorOptions Monitor { get; init; } = new();

    /// <summary>Timeout of one health check (dial, request, answer).</summary>
    public TimeSpan CheckTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Timeout for a remote to send its next request on an inbound stream.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Most requests served on one inbound stream.</summary>
    public int MaxRequestsPerStream { get; init; } = 64;

    /// <summary>How often the background loop looks for due checks and alert refreshes.</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often a mailbox node sends HQ its count of open mailboxes (<see cref="DrainReport"/>; HQ keeps it only
    /// while the node is being drained). Zero: never.
    /// </summary>
    public TimeSpan DrainReportInterval { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// <c>/kontinuum/health/1.0.0</c> on a mailbox node (layer 2): accepts reports only from devices registered here,
/// answers mailbox-to-mailbox checks, runs the checks its <see cref="MailboxHealthMonitor"/> asks for, and sends signed
/// alerts to HQ on every transition and refresh. On HQ's node it also receives alerts (<see cref="IHealthAlertReceiver"/>).
/// </summary>
public sealed partial class HealthService : IProtocolHandler, IAsyncDisposable
{
    /// <summary>Protocol id.</summary>
    public const string ProtocolId = "/kontinuum/health/1.0.0";

    private readonly IPeerHost _host;
    private readonly HealthServiceOptions _options;
    private readonly IRegisteredDevices _devices;
    private readonly IHealthAlertSink? _sink;
    private readonly IHealthAlertReceiver? _receiver;
    private readonly Ed25519Identity _key;
    private readonly Certificate _certificate;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly MailboxHealthMonitor _monitor;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    /// <summary>Creates the service (call <see cref="Start"/> to serve and check).</summary>
    public HealthService(IPeerHost host, HealthServiceOptions options, IRegisteredDevices devices, Ed25519Identity key, Certificate certificate,
        IHealthAlertSink? sink, IHealthAlertReceiver? receiver, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _devices = devices ?? throw new ArgumentNullException(nameof(devices));
        _key = key ?? throw new ArgumentNullException(nameof(key));
        _certificate = certificate ?? throw new ArgumentNullException(nameof(certificate));
        _sink = sink;
        _receiver = receiver;
        _time = time ?? host.TimeProvider;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<HealthService>();
        _monitor = new MailboxHealthMonitor(options.Monitor, _time);
    }

    /// <summary>Snapshot of what this mailbox knows of its targets.</summary>
    public IReadOnlyList<TargetStatus> Targets()
    {
        lock (_lock) return _monitor.Snapshot();
    }

    /// <summary>Registers the handler and starts the check loop.</summary>
    public void Start()
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        _host.SetHandler(ProtocolId, this);
        _loop = LoopAsync(_stop.Token);
    }

    /// <inheritdoc />
    public async ValueTask HandleAsync(IP2PStream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            for (var served = 0; served < _options.MaxRequestsPerStream; served++)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.RequestTimeout);
                var request = await HealthFrames.ReadAsync(stream.Input, HealthRequest.Parser, timeout.Token).ConfigureAwait(false);
                if (request is null) return;
                var response = await AnswerAsync(request, stream.Connection.RemotePeer, timeout.Token).ConfigureAwait(false);
                response.RequestId = request.RequestId;
                await HealthFrames.WriteAsync(stream.Output, response, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (InvalidDataException e)
        {
            Log.Malformed(_logger, e.Message);
            stream.Reset(); // this stream only
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            stream.Reset(); // the remote was too slow
        }
    }

    /// <summary>Checks one target now over the protocol; true when it answered in time.</summary>
    public async Task<bool> CheckAsync(PeerId target, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.CheckTimeout);
        try
        {
            await using var stream = await _host.NewStreamAsync(target, [ProtocolId], timeout.Token).ConfigureAwait(false);
            var nonce = (ulong)Random.Shared.NextInt64();
            await HealthFrames.WriteAsync(stream.Output, new HealthRequest { RequestId = 1, Check = new HealthCheck { Nonce = nonce } }, timeout.Token).ConfigureAwait(false);
            var answer = await HealthFrames.ReadAsync(stream.Input, HealthResponse.Parser, timeout.Token).ConfigureAwait(false);
            return answer?.Check?.Nonce == nonce;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException or InvalidOperationException or TimeoutException
            && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _host.RemoveHandler(ProtocolId);
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }

    private async Task<HealthResponse> AnswerAsync(HealthRequest request, PeerId remote, CancellationToken cancellationToken)
    {
        switch (request.BodyCase)
        {
            case HealthRequest.BodyOneofCase.Check:
                return new HealthResponse { Check = new HealthCheckResult { Nonce = request.Check.Nonce, UnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds() } };
            case HealthRequest.BodyOneofCase.Report:
            {
                var r = request.Report;
                if (r.MailboxId.Length != 32 || r.Capability.Length != 32 || r.DeviceId.Length is < 16 or > 32 || !SlotRecord.IsValidSlotName(r.Slot))
                    return Error(HealthError.Types.Code.Malformed, "report needs a 32-byte mailbox id and capability, a 16..32-byte device id and a slot name");
                PeerId target;
                try
                {
                    target = PeerId.FromBytes(r.NodeId.Span);
                }
                catch (Exception e) when (e is ArgumentException or FormatException)
                {
                    return Error(HealthError.Types.Code.Malformed, "node_id is not a peer id");
                }
                if (target.Equals(_host.PeerId)) return new HealthResponse { Report = new ReportResult { Counted = false } };
                if (!await _devices.IsRegisteredAsync(r.MailboxId.Memory, r.Capability.Memory, r.DeviceId.Memory, cancellationToken).ConfigureAwait(false))
                    return new HealthResponse { Report = new ReportResult { Counted = false } };
                // The same device id in two mailboxes of this node is two devices: count the pair.
                var reporter = new byte[64];
                r.MailboxId.Span.CopyTo(reporter);
                r.DeviceId.Span.CopyTo(reporter.AsSpan(32));
                HealthTransition? transition;
                lock (_lock) transition = _monitor.RecordReport(new HealthTarget(r.Slot, target), reporter.AsSpan(0, 32 + r.DeviceId.Length));
                if (transition is not null) await AlertAsync(transition, cancellationToken).ConfigureAwait(false);
                return new HealthResponse { Report = new ReportResult { Counted = true } };
            }
            case HealthRequest.BodyOneofCase.Drain:
            {
                if (_receiver is not IDrainReportReceiver drains) return Error(HealthError.Types.Code.NotSupported, "this node does not take drain reports");
                DrainReport report;
                try
                {
                    report = DrainReport.FromSigned(request.Drain);
                }
                catch (FormatException e)
                {
                    return Error(HealthError.Types.Code.Malformed, e.Message);
                }
                if (!report.Reporter.Body.PeerId.Equals(remote)) return Error(HealthError.Types.Code.Unauthorized, "the report's reporter is not the sender");
                return new HealthResponse { Alert = new AlertResult { Accepted = drains.Receive(report) } };
            }
            case HealthRequest.BodyOneofCase.Alert:
            {
                if (_receiver is null) return Error(HealthError.Types.Code.NotSupported, "this node does not take alerts");
                HealthAlert alert;
                try
                {
                    alert = HealthAlert.FromSigned(request.Alert);
                }
                catch (FormatException e)
                {
                    return Error(HealthError.Types.Code.Malformed, e.Message);
                }
                if (!alert.Reporter.Body.PeerId.Equals(remote)) return Error(HealthError.Types.Code.Unauthorized, "the alert's reporter is not the sender");
                return new HealthResponse { Alert = new AlertResult { Accepted = _receiver.Receive(alert) } };
            }
            default:
                return Error(HealthError.Types.Code.Malformed, "empty request");
        }
    }

    private static HealthResponse Error(HealthError.Types.Code code, string message) =>
        new() { Error = new HealthError { Code = code, Message = message } };

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.Tick, _time);
        var nextDrainReport = _time.GetUtcNow();
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_options.DrainReportInterval > TimeSpan.Zero && _time.GetUtcNow() >= nextDrainReport)
            {
                nextDrainReport = _time.GetUtcNow() + _options.DrainReportInterval;
                await SendDrainReportAsync(cancellationToken).ConfigureAwait(false);
            }
            IReadOnlyList<HealthTarget> due;
            IReadOnlyList<TargetStatus> refresh;
            lock (_lock)
            {
                due = _monitor.TakeDueChecks();
                refresh = _monitor.TakeAlertRefreshes();
            }
            var results = await Task.WhenAll(due.Select(async t => (Target: t, Ok: await CheckAsync(t.NodeId, cancellationToken).ConfigureAwait(false))))
                .ConfigureAwait(false);
            foreach (var (target, ok) in results)
            {
                HealthTransition? transition;
                lock (_lock) transition = _monitor.RecordCheck(target, ok);
                if (transition is not null) await AlertAsync(transition, cancellationToken).ConfigureAwait(false);
            }
            foreach (var s in refresh)
                await SendAsync(new HealthAlert(s.Target, s.Level, s.UniqueReporters, s.ConsecutiveFailures, s.FailingSince, _time.GetUtcNow(), _certificate), cancellationToken).ConfigureAwait(false);
        }
    }

    private Task AlertAsync(HealthTransition t, CancellationToken cancellationToken)
    {
        Log.Transition(_logger, t.Target.Slot, t.From, t.To, t.UniqueReporters, t.ConsecutiveFailures);
        return SendAsync(new HealthAlert(t.Target, t.To, t.UniqueReporters, t.ConsecutiveFailures, t.FailingSince, t.At, _certificate), cancellationToken);
    }

    private async Task SendAsync(HealthAlert alert, CancellationToken cancellationToken)
    {
        if (_sink is null) return;
        try
        {
            await _sink.SendAsync(alert, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log.AlertFailed(_logger, alert.Target.Slot, e.Message); // re-sent on the next refresh
        }
    }

    private async Task SendDrainReportAsync(CancellationToken cancellationToken)
    {
        if (_sink is not IDrainReportSink sink || _devices is not IMailboxCensus census) return;
        try
        {
            var (open, withBlobs) = census.CountMailboxes();
            await sink.SendAsync(new DrainReport(open, withBlobs, _time.GetUtcNow(), _certificate), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException
                                      || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log.AlertFailed(_logger, "(drain report)", e.Message); // the next one follows after the interval
        }
    }

    /// <summary>Sends alerts (and drain reports) to HQ's peer over the health protocol.</summary>
    public sealed class PeerAlertSink(IPeerHost host, PeerId hq, Ed25519Identity key, TimeSpan timeout) : IHealthAlertSink, IDrainReportSink
    {
        /// <inheritdoc />
        public async Task SendAsync(DrainReport report, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(report);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            await using var stream = await host.NewStreamAsync(hq, [ProtocolId], cts.Token).ConfigureAwait(false);
            await HealthFrames.WriteAsync(stream.Output, new HealthRequest { RequestId = 1, Drain = report.ToSigned(key) }, cts.Token).ConfigureAwait(false);
            var answer = await HealthFrames.ReadAsync(stream.Input, HealthResponse.Parser, cts.Token).ConfigureAwait(false);
            if (answer?.Alert is null) throw new IOException($"HQ refused the drain report: {answer?.Error?.Message ?? "no answer"}");
        }

        /// <inheritdoc />
        public async Task SendAsync(HealthAlert alert, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(alert);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            await using var stream = await host.NewStreamAsync(hq, [ProtocolId], cts.Token).ConfigureAwait(false);
            await HealthFrames.WriteAsync(stream.Output, new HealthRequest { RequestId = 1, Alert = alert.ToSigned(key) }, cts.Token).ConfigureAwait(false);
            var answer = await HealthFrames.ReadAsync(stream.Input, HealthResponse.Parser, cts.Token).ConfigureAwait(false);
            if (answer?.Alert is null) throw new IOException($"HQ refused the alert: {answer?.Error?.Message ?? "no answer"}");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Health: {Slot} {From} -> {To} ({Reporters} reporting devices, {Failures} failed checks)")]
        public static partial void Transition(ILogger logger, string slot, HealthLevel from, HealthLevel to, int reporters, int failures);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Health: alert about {Slot} not delivered to HQ: {Reason}")]
        public static partial void AlertFailed(ILogger logger, string slot, string reason);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Health: malformed request: {Reason}")]
        public static partial void Malformed(ILogger logger, string reason);
    }
}
