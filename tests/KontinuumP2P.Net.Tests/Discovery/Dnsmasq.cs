using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KontinuumP2P.Net.Tests.Discovery;

/// <summary>A real DNS server for tests: Debian's dnsmasq, unprivileged port on 127.0.0.1, records from arguments.</summary>
internal sealed class Dnsmasq : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private Dnsmasq(Process process, IPEndPoint endPoint)
    {
        _process = process;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public string Log
    {
        get
        {
            lock (_log) return _log.ToString();
        }
    }

    /// <summary>Starts dnsmasq authoritative for <c>.test</c> (unknown names get NXDOMAIN) with <paramref name="records"/>.</summary>
    public static async Task<Dnsmasq> StartAsync(IEnumerable<string> records, CancellationToken cancellationToken)
    {
        var binary = new[] { "/usr/sbin/dnsmasq", "/usr/bin/dnsmasq" }.FirstOrDefault(File.Exists);
        if (binary is null) Assert.Ignore("dnsmasq is not installed (apt-get install -y dnsmasq-base)");
        var port = FreePort();
        var info = new ProcessStartInfo(binary!) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[]
                 {
                     "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file", $"--port={port}",
                     "--listen-address=127.0.0.1", "--bind-interfaces", "--local=/test/", "--local-ttl=300", "--log-queries",
                 }.Concat(records))
        {
            info.ArgumentList.Add(argument);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("dnsmasq did not start");
        var server = new Dnsmasq(process, new IPEndPoint(IPAddress.Loopback, port));
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        // Ready once its TCP port accepts; bounded wait.
        for (var i = 0; i < 100; i++)
        {
            if (process.HasExited) throw new InvalidOperationException($"dnsmasq exited: {server.Log}");
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(server.EndPoint, cancellationToken);
                return server;
            }
            catch (SocketException)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
        server.Dispose();
        throw new TimeoutException("dnsmasq did not open its port within 5 s");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_log) _log.AppendLine(line);
    }

    private static int FreePort()
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)udp.LocalEndPoint!).Port;
    }
}
