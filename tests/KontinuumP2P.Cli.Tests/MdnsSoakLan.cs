using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Net.Discovery.Dns;

namespace KontinuumP2P.Cli.Tests;

/// <summary>
/// Network namespaces made for one soak: hosts joined by veth pairs (optionally through a bridge in a "switch"
/// namespace), each with 224.0.0.0/4 routed to its LAN interface. Nothing reaches a real interface. Every process
/// started here is killed and every namespace deleted on dispose.
/// </summary>
internal sealed class SoakLan : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly string _prefix = "kps-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private readonly List<string> _namespaces = [];
    private readonly List<SoakProcess> _processes = [];

    /// <summary>Ignores the test unless this is Linux, root and iproute2 is there (CI runs as root).</summary>
    public static void RequireNamespaces()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip"))
            Assert.Ignore("mDNS soak tests need Linux, root and iproute2 to make network namespaces (CI runs them as root)");
    }

    /// <summary>A new namespace with <c>lo</c> up; <paramref name="loopbackMulticast"/> also routes multicast to <c>lo</c>.</summary>
    public string AddNamespace(string role, bool loopbackMulticast = false)
    {
        var name = $"{_prefix}-{role}";
        NetnsCommands.Run("ip", "netns", "add", name);
        _namespaces.Add(name);
        NetnsCommands.Run("ip", "-n", name, "link", "set", "lo", "up");
        if (loopbackMulticast)
        {
            NetnsCommands.Run("ip", "-n", name, "link", "set", "lo", "multicast", "on");
            NetnsCommands.Run("ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo");
        }
        return name;
    }

    /// <summary>A veth pair between two namespaces; each end gets its address (or none) and the multicast route.</summary>
    public void Connect(string nsA, string ifA, string? addressA, string nsB, string ifB, string? addressB, string? bridgeInB = null)
    {
        NetnsCommands.Run("ip", "-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB);
        foreach (var (ns, nic, address) in new[] { (nsA, ifA, addressA), (nsB, ifB, addressB) })
        {
            // No IPv6 on the LAN: router solicitations and MLD reports would only add noise to the counts.
            NetnsCommands.Run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", $"net.ipv6.conf.{nic}.disable_ipv6=1");
            if (address is not null) NetnsCommands.Run("ip", "-n", ns, "addr", "add", address, "dev", nic);
            NetnsCommands.Run("ip", "-n", ns, "link", "set", nic, "up");
            if (address is not null) NetnsCommands.Run("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", nic);
        }
        if (bridgeInB is not null) NetnsCommands.Run("ip", "-n", nsB, "link", "set", ifB, "master", bridgeInB);
    }

    /// <summary>A bridge (no multicast snooping, so every mDNS frame floods) with an address to capture on.</summary>
    public void AddBridge(string ns, string bridge, string address)
    {
        NetnsCommands.Run("ip", "-n", ns, "link", "add", bridge, "type", "bridge", "mcast_snooping", "0");
        NetnsCommands.Run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", $"net.ipv6.conf.{bridge}.disable_ipv6=1");
        NetnsCommands.Run("ip", "-n", ns, "addr", "add", address, "dev", bridge);
        NetnsCommands.Run("ip", "-n", ns, "link", "set", bridge, "up");
        NetnsCommands.Run("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", bridge);
    }

    /// <summary>Starts <c>dotnet kontinuum.dll args</c> inside <paramref name="ns"/>.</summary>
    public SoakProcess StartCli(string ns, string name, params string[] args)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, "dotnet", NodeProcess.CliPath }.Concat(args)) info.ArgumentList.Add(a);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("KONTINUUM__", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        var process = new SoakProcess(name, info);
        lock (_processes) _processes.Add(process);
        return process;
    }

    /// <summary>Opens a socket inside <paramref name="ns"/> that receives every mDNS multicast on the interface owning <paramref name="localAddress"/>.</summary>
    public Task<MdnsCapture> CaptureAsync(string ns, IPAddress localAddress)
    {
        var done = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle($"/run/netns/{ns}"))
                {
                    if (SetNamespace((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                        throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                }
                // Sockets keep the namespace they were made in, so this one stays inside after the thread ends.
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(new IPEndPoint(IPAddress.Any, 5353));
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(IPAddress.Parse("224.0.0.251"), localAddress));
                done.SetResult(socket);
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }) { IsBackground = true, Name = $"netns {ns}" };
        thread.Start();
        return done.Task.ContinueWith(t => new MdnsCapture(t.Result), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }

    public void Dispose()
    {
        List<SoakProcess> started;
        lock (_processes) started = [.. _processes];
        foreach (var process in started) process.Dispose();
        foreach (var ns in Enumerable.Reverse(_namespaces)) NetnsCommands.Delete(ns);
    }

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNamespace(int fd, int nsType);
}

/// <summary>One captured mDNS datagram.</summary>
internal sealed record CapturedPacket(TimeSpan At, IPEndPoint Source, bool IsResponse, bool IsGoodbye, IReadOnlyList<string> TxtValues);

/// <summary>Every mDNS multicast datagram seen on one interface, timestamped on a shared stopwatch.</summary>
internal sealed class MdnsCapture : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly List<CapturedPacket> _packets = [];
    private readonly Task _loop;

    public MdnsCapture(Socket socket)
    {
        _socket = socket;
        _loop = Task.Run(ReceiveAsync);
    }

    public static Stopwatch Clock { get; } = Stopwatch.StartNew();

    public int Malformed { get; private set; }

    public IReadOnlyList<CapturedPacket> Packets
    {
        get
        {
            lock (_packets) return [.. _packets];
        }
    }

    public IReadOnlyList<CapturedPacket> From(IPAddress source) => [.. Packets.Where(p => p.Source.Address.Equals(source))];

    private async Task ReceiveAsync()
    {
        var buffer = new byte[9001];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (true)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or OperationCanceledException)
            {
                return;
            }
            var at = Clock.Elapsed;
            if (!DnsMessageReader.TryDecode(buffer.AsSpan(0, received.ReceivedBytes), out var message, out _))
            {
                Malformed++;
                continue;
            }
            var records = message!.Answers.Concat(message.Additionals).ToList();
            var goodbye = message.IsResponse && records.Count > 0 && records.All(r => r.Ttl == 0);
            var txt = records.OfType<TxtDnsRecord>().SelectMany(t => t.Strings).Select(s => Encoding.UTF8.GetString(s)).ToList();
            lock (_packets) _packets.Add(new CapturedPacket(at, (IPEndPoint)received.RemoteEndPoint, message.IsResponse, goodbye, txt));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        await _loop;
    }
}

/// <summary>A CLI process of a soak: first stdout line and exit time on <see cref="MdnsCapture.Clock"/>, stderr kept, RSS and CPU from /proc.</summary>
internal sealed class SoakProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _errors = new();
    private readonly TaskCompletionSource<(string Line, TimeSpan At)> _firstLine = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<TimeSpan> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SoakProcess(string name, ProcessStartInfo info)
    {
        Name = name;
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line) _firstLine.TrySetResult((line, MdnsCapture.Clock.Elapsed));
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_errors) _errors.AppendLine(e.Data);
        };
        _process.Exited += (_, _) =>
        {
            _exited.TrySetResult(MdnsCapture.Clock.Elapsed);
            _firstLine.TrySetException(new InvalidOperationException($"{name} exited before its first line"));
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }

    public Task<(string Line, TimeSpan At)> FirstLine => _firstLine.Task;

    /// <summary>When the process exited, on <see cref="MdnsCapture.Clock"/>.</summary>
    public Task<TimeSpan> Exited => _exited.Task;

    public int ExitCode => _process.ExitCode;

    public string Errors
    {
        get
        {
            lock (_errors) return _errors.ToString();
        }
    }

    /// <summary>Resident memory in KiB, or null once the process is gone.</summary>
    public long? ResidentKiB() => ReadProc(() =>
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    });

    /// <summary>User plus system CPU time so far, or null once the process is gone (USER_HZ is 100 on Linux).</summary>
    public TimeSpan? CpuTime() => ReadProc(() =>
    {
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }) is { } ms ? TimeSpan.FromTicks(ms) : null;

    private long? ReadProc(Func<long> read)
    {
        try
        {
            return _process.HasExited ? null : read();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null;
        }
    }

    private long? ReadProc(Func<TimeSpan> read) => ReadProc(() => read().Ticks);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }
}
