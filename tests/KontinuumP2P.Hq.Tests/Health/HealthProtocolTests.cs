using System.Collections.Concurrent;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Hq.Tests.Service;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Hq.Tests.Health;

/// <summary>The health protocol over real TCP hosts on 127.0.0.1, with thresholds scaled down (said in each test).</summary>
public sealed class HealthProtocolTests
{
    private sealed class Registered : IRegisteredDevices
    {
        public ConcurrentDictionary<string, byte> Devices { get; } = new();

        public static string Key(ReadOnlyMemory<byte> mailbox, ReadOnlyMemory<byte> cap, ReadOnlyMemory<byte> device) =>
            Convert.ToHexString(mailbox.Span) + Convert.ToHexString(cap.Span) + Convert.ToHexString(device.Span);

        public ValueTask<bool> IsRegisteredAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId, CancellationToken ct) =>
            ValueTask.FromResult(Devices.ContainsKey(Key(mailboxId, capability, deviceId)));
    }

    private sealed class RecordingSink : IHealthAlertSink
    {
        private readonly IHealthAlertSink? _inner;
        public RecordingSink(IHealthAlertSink? inner = null) => _inner = inner;
        public ConcurrentQueue<HealthAlert> Alerts { get; } = new();
        public event Action<HealthAlert>? Sent;

        public async Task SendAsync(HealthAlert alert, CancellationToken ct)
        {
            Alerts.Enqueue(alert);
            Sent?.Invoke(alert);
            if (_inner is not null) await _inner.SendAsync(alert, ct);
        }

        public Task<HealthAlert> WaitForAsync(Func<HealthAlert, bool> match)
        {
            var tcs = new TaskCompletionSource<HealthAlert>(TaskCreationOptions.RunContinuationsAsynchronously);
            Sent += a =>
            {
                if (match(a)) tcs.TrySetResult(a);
            };
            foreach (var a in Alerts)
            {
                if (match(a)) tcs.TrySetResult(a);
            }
            return tcs.Task;
        }
    }

    /// <summary>Scaled down: YELLOW above 3 devices within 10 s; checks every 200 ms; ORANGE after 3 failures; RED after 1 s.</summary>
    private static readonly HealthServiceOptions Scaled = new()
    {
        Monitor = new HealthMonitorOptions
        {
            YellowReportThreshold = 3, ReportWindow = TimeSpan.FromSeconds(10), CheckInterval = TimeSpan.FromMilliseconds(200),
            RedAfter = TimeSpan.FromSeconds(1), AlertRefreshInterval = TimeSpan.FromSeconds(30), MaxDevicesPerTarget = 64,
        },
        CheckTimeout = TimeSpan.FromSeconds(2),
        Tick = TimeSpan.FromMilliseconds(50),
    };

    private readonly List<IAsyncDisposable> _owned = [];
    private HqFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new HqFixture();

    [TearDown]
    public async Task TearDown()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
        _owned.Clear();
        _f.Dispose();
    }

    private async Task<(PeerHost Host, Ed25519Identity Key)> HostAsync(CancellationToken ct)
    {
        var key = Ed25519Identity.Generate();
        var host = new PeerHost(new PeerHostOptions { Identity = key, Transports = [new TcpTransport()], ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] });
        await host.StartAsync(ct);
        _owned.Add(host);
        return (host, key);
    }

    private async Task<(PeerHost Host, HealthService Service, Certificate Cert)> MailboxAsync(Registered devices, IHealthAlertSink? sink, IHealthAlertReceiver? receiver,
        Func<PeerHost, Ed25519Identity, IHealthAlertSink?>? sinkFactory, CancellationToken ct)
    {
        var (host, key) = await HostAsync(ct);
        var cert = _f.Authority.IssueCertificate(key, TimeSpan.FromDays(1), ["dht", "mailbox"]);
        var service = new HealthService(host, Scaled, devices, key, cert, sink ?? sinkFactory?.Invoke(host, key), receiver);
        service.Start();
        _owned.Insert(_owned.IndexOf(host) + 1, service);
        return (host, service, cert);
    }

    private static void Connect(PeerHost from, PeerHost to) => from.PeerStore.AddAddresses(to.PeerId, to.ListenAddresses, TimeSpan.FromHours(1));

    private static DeviceReport Report(Registered reg, int device, HealthTarget target, bool register)
    {
        var mailbox = new byte[32];
        var cap = new byte[32];
        cap[0] = 7;
        var id = new byte[16];
        BitConverter.TryWriteBytes(id, device);
        if (register) reg.Devices[Registered.Key(mailbox, cap, id)] = 0;
        return new DeviceReport(mailbox, cap, id, target, DateTimeOffset.UtcNow, "eu");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_flood_of_reports_from_unregistered_devices_never_escalates(CancellationToken ct)
    {
        var reg = new Registered();
        var sink = new RecordingSink();
        var (survivor, service, _) = await MailboxAsync(reg, sink, null, null, ct);
        var (device, _) = await HostAsync(ct);
        Connect(device, survivor);
        var target = new HealthTarget("mbx-eu-001", Ed25519Identity.Generate().PeerId); // not even reachable
        for (var i = 0; i < 300; i++)
            Assert.That(await HealthReporter.ReportAsync(device, survivor.PeerId, Report(reg, i, target, register: false), TimeSpan.FromSeconds(5), ct), Is.False);
        Assert.That(service.Targets(), Is.Empty);
        Assert.That(sink.Alerts, Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Lying_registered_devices_reach_yellow_then_a_healthy_target_answers_and_clears_it(CancellationToken ct)
    {
        var reg = new Registered();
        var sink = new RecordingSink();
        var (survivor, _, _) = await MailboxAsync(reg, sink, null, null, ct);
        var (target, _, _) = await MailboxAsync(new Registered(), null, null, null, ct);
        Connect(survivor, target);
        var (device, _) = await HostAsync(ct);
        Connect(device, survivor);
        var t = new HealthTarget("mbx-eu-002", target.PeerId);
        var green = sink.WaitForAsync(a => a.Level == HealthLevel.Green);
        for (var i = 0; i < 4; i++) Assert.That(await HealthReporter.ReportAsync(device, survivor.PeerId, Report(reg, i, t, register: true), TimeSpan.FromSeconds(5), ct), Is.True);
        await green.WaitAsync(ct);
        Assert.That(sink.Alerts.Select(a => a.Level), Is.EqualTo(new[] { HealthLevel.Yellow, HealthLevel.Green }));
    }

    [Test]
    [CancelAfter(90_000)]
    public async Task A_dead_mailbox_goes_red_at_two_survivors_and_hq_replaces_it_from_the_spare_pool(CancellationToken ct)
    {
        using var hq = _f.Open();
        var anchors = TrustAnchors.Create(_f.Authority.Network.Anchors!, TimeProvider.System);
        var receiver = new HqAlertReceiver(hq, () => anchors, null);
        var hqKey = _f.Key;
        var hqHost = new PeerHost(new PeerHostOptions { Identity = hqKey, Transports = [new TcpTransport()], ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] });
        await hqHost.StartAsync(ct);
        _owned.Add(hqHost);
        var hqHealth = new HealthService(hqHost, Scaled, new Registered(), hqKey, _f.Certificate, null, receiver);
        hqHealth.Start();
        _owned.Add(hqHealth);

        var reg = new Registered();
        IHealthAlertSink ToHq(PeerHost h, Ed25519Identity k)
        {
            h.PeerStore.AddAddresses(hqHost.PeerId, hqHost.ListenAddresses, TimeSpan.FromHours(1));
            return new RecordingSink(new HealthService.PeerAlertSink(h, hqHost.PeerId, k, TimeSpan.FromSeconds(5)));
        }
        var a = await MailboxAsync(reg, null, null, ToHq, ct);
        var b = await MailboxAsync(reg, null, null, ToHq, ct);
        var (deadHost, deadKey) = await HostAsync(ct);
        Connect(a.Host, deadHost);
        Connect(b.Host, deadHost);
        hq.RegisterSlot("test", "mbx-a", a.Host.PeerId, "p1", "eu", MailboxRole.Replica, 10);
        hq.RegisterSlot("test", "mbx-b", b.Host.PeerId, "p2", "eu", MailboxRole.Replica, 10);
        hq.RegisterSlot("test", "mbx-dead", deadHost.PeerId, "p3", "eu", MailboxRole.Replica, 10);
        hq.AllocateGroup("test", "g1", MailboxRole.Replica, "eu");
        var spare = Ed25519Identity.Generate().PeerId.ToString();
        hq.Registry.AddSpare("test", new SpareEntry(spare, "p4", "eu", "/spares/x", null));
        await deadHost.DisposeAsync(); // kill the target
        _owned.Remove(deadHost);
        deadKey.Dispose();

        var (device, _) = await HostAsync(ct);
        Connect(device, a.Host);
        Connect(device, b.Host);
        var target = new HealthTarget("mbx-dead", deadHost.PeerId);
        var started = DateTimeOffset.UtcNow;
        for (var i = 0; i < 4; i++)
        {
            await HealthReporter.ReportAsync(device, a.Host.PeerId, Report(reg, i, target, register: true), TimeSpan.FromSeconds(5), ct);
            await HealthReporter.ReportAsync(device, b.Host.PeerId, Report(reg, i, target, register: true), TimeSpan.FromSeconds(5), ct);
        }
        // Poll HQ's registry on the protocol's own cadence: RED needs both survivors' RED alerts (scaled: ~1 s of failure).
        for (var i = 0; i < 600 && hq.Registry.GetSlot("mbx-dead")!.Status != SlotStatus.Down; i++) await Task.Delay(50, ct);
        Assert.That(hq.Registry.GetSlot("mbx-dead")!.Status, Is.EqualTo(SlotStatus.Down), "HQ never saw RED confirmed by two mailboxes");
        Assert.That(hq.Status().Mailboxes.Single(m => m.Slot == "mbx-dead").State, Is.EqualTo("red"));
        Assert.That(DateTimeOffset.UtcNow - started, Is.GreaterThanOrEqualTo(Scaled.Monitor.RedAfter));
        Assert.That(receiver.Refused, Is.Zero);

        var replaced = hq.ReplaceDownSlots("hq");
        Assert.That(replaced.Single().Replacement.Spare.Id, Is.EqualTo(spare));
        Assert.That(replaced.Single().Record.NodeId.ToString(), Is.EqualTo(spare));
        Assert.That(hq.Status().Mailboxes.Single(m => m.Slot == "mbx-dead").State, Is.EqualTo("green"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Hq_refuses_alerts_from_nodes_without_the_mailbox_capability(CancellationToken ct)
    {
        using var hq = _f.Open();
        var anchors = TrustAnchors.Create(_f.Authority.Network.Anchors!, TimeProvider.System);
        var receiver = new HqAlertReceiver(hq, () => anchors, null);
        using var key = Ed25519Identity.Generate();
        var plain = _f.Authority.IssueCertificate(key, TimeSpan.FromDays(1), ["dht"]);
        var node = Ed25519Identity.Generate().PeerId;
        hq.RegisterSlot("test", "mbx-x", node, "p1", "eu", MailboxRole.Replica, 10);
        var alert = HealthAlert.Verify(new HealthAlert(new HealthTarget("mbx-x", node), HealthLevel.Red, 5, 5, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, plain).Sign(key));
        Assert.That(receiver.Receive(alert), Is.False);
        Assert.That(receiver.Refused, Is.EqualTo(1));
        var forged = new HealthAlert(new HealthTarget("mbx-x", node), HealthLevel.Red, 5, 5, null, DateTimeOffset.UtcNow, plain).Sign(key);
        forged[6] ^= 1; // inside the signed body (the slot name)
        Assert.That(() => HealthAlert.Verify(forged), Throws.InstanceOf<FormatException>());
        await Task.CompletedTask;
    }
}
