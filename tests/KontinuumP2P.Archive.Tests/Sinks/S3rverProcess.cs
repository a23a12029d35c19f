using System.Diagnostics;
using System.Text.Json;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Archive.Tests.Sinks;

/// <summary>A real s3rver (npm 3.7.1) on 127.0.0.1 in a child process, with one bucket, in a temporary folder.</summary>
internal sealed class S3rverProcess : IAsyncDisposable
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";
    private readonly Process _process;
    private readonly string _directory;

    private S3rverProcess(Process process, string directory, string bucket, int port)
    {
        _process = process;
        _directory = directory;
        Bucket = bucket;
        Endpoint = new Uri($"http://127.0.0.1:{port}/");
    }

    public string Bucket { get; }

    public Uri Endpoint { get; }

    public string SinkText => $"s3://{Bucket}?endpoint={Endpoint}";

    public S3Sink OpenSink() => new(Bucket, Endpoint, AccessKey, SecretKey);

    public static async Task<S3rverProcess> StartAsync(string bucket = "archive")
    {
        var harness = Path.Combine(SharedVectors.RepositoryRoot, "tests", "KontinuumP2P.Archive.Tests", "S3rver");
        Assert.That(Directory.Exists(Path.Combine(harness, "node_modules", "s3rver")), "s3rver is installed by the InstallS3rver build target");
        var directory = Directory.CreateTempSubdirectory("kp-s3rver-").FullName;
        var start = new ProcessStartInfo("node") { WorkingDirectory = harness, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        // s3rver 3.7.1 makes its list continuation tokens with DES, which Node's OpenSSL 3 offers only in its legacy provider.
        foreach (var a in new[] { "--openssl-legacy-provider", "start.mjs", directory, bucket }) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null) throw new InvalidOperationException("s3rver exited: " + await process.StandardError.ReadToEndAsync(timeout.Token));
            var port = JsonDocument.Parse(line).RootElement.GetProperty("port").GetInt32();
            return new S3rverProcess(process, directory, bucket, port);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
