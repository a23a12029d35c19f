using System.Diagnostics;
using System.Globalization;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;

namespace KontinuumP2P.Benchmarks;

// The receiving end of stream-throughput: in this process, or in a child process so each end's CPU can be read apart.
public sealed partial class StreamThroughputBench
{
    private const string SinkChildArg = "--sink-child";
    private const string ListenLine = "@listen ";

    /// <summary>The receiving end: where to dial it, and the CPU it used when it runs in its own process.</summary>
    private interface IReceiver : IAsyncDisposable
    {
        Multiaddr Address { get; }

        bool IsSeparate { get; }

        /// <summary>CPU-seconds of the receiving process so far; 0 when it is this process (counted with the sender).</summary>
        double CpuSeconds();
    }

    private static async Task<InProcessSink> StartSinkAsync(CancellationToken cancellationToken)
    {
        var identity = Ed25519Identity.Generate();
        var host = new PeerHost(new PeerHostOptions
        {
            Identity = identity,
            Transports = [new TcpTransport()],
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        });
        try
        {
            host.SetHandler(SinkProtocol, SinkAsync);
            await host.StartAsync(cancellationToken);
            return new InProcessSink(identity, host);
        }
        catch
        {
            await host.DisposeAsync();
            identity.Dispose();
            throw;
        }
    }

    /// <summary>Child mode: serve the sink, print its address, and stop when the parent closes our stdin.</summary>
    private static async Task<int> RunSinkChildAsync(CancellationToken cancellationToken)
    {
        await using var sink = await StartSinkAsync(cancellationToken);
        Console.WriteLine(ListenLine + sink.Address);
        Console.Out.Flush();
        while (await Console.In.ReadLineAsync(cancellationToken) is not null)
        {
        }
        return 0;
    }

    private sealed class InProcessSink(Ed25519Identity identity, PeerHost host) : IReceiver
    {
        public Multiaddr Address => host.ListenAddresses[0].WithPeerId(host.PeerId);

        public bool IsSeparate => false;

        public double CpuSeconds() => 0;

        public async ValueTask DisposeAsync()
        {
            await host.DisposeAsync();
            identity.Dispose();
        }
    }

    /// <summary>The sink in a child process (same executable, <c>stream-throughput --sink-child</c>).</summary>
    private sealed class SinkChild(Process child, Multiaddr address) : IReceiver
    {
        private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
        private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(10);

        public Multiaddr Address => address;

        public bool IsSeparate => true;

        public static async Task<SinkChild> StartAsync(CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo
            {
                FileName = Environment.ProcessPath!,
                RedirectStandardOutput = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            // Under `dotnet KontinuumP2P.Benchmarks.dll` the host needs the assembly; the apphost runs it itself.
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") start.ArgumentList.Add(typeof(SinkChild).Assembly.Location);
            start.ArgumentList.Add("stream-throughput");
            start.ArgumentList.Add(SinkChildArg);
            var child = Process.Start(start) ?? throw new InvalidOperationException("could not start the sink process");
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(StartTimeout);
                while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    if (line.StartsWith(ListenLine, StringComparison.Ordinal))
                        return new SinkChild(child, Multiaddr.Parse(line[ListenLine.Length..]));
                }
                throw new InvalidOperationException("the sink process exited before it listened");
            }
            catch
            {
                child.Kill(entireProcessTree: true);
                child.Dispose();
                throw;
            }
        }

        // utime + stime of the whole process from /proc/<pid>/stat, in USER_HZ ticks (100 per second in the Linux ABI):
        // 10 ms resolution, about 1 % of a 1 GiB repetition's receiving end.
        public double CpuSeconds()
        {
            var stat = File.ReadAllText($"/proc/{child.Id}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks / 100.0;
        }

        public async ValueTask DisposeAsync()
        {
            child.StandardInput.Close();
            using var timeout = new CancellationTokenSource(ExitTimeout);
            try
            {
                await child.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                child.Kill(entireProcessTree: true);
            }
            child.Dispose();
        }
    }
}
