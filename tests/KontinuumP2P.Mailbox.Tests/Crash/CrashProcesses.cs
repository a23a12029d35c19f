using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Tests.Crash;

/// <summary>Starting, reading and SIGKILLing tests/KontinuumP2P.Mailbox.CrashHost children, and reading their databases.</summary>
internal static class CrashProcesses
{
    public static Process Start(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "KontinuumP2P.Mailbox.CrashHost.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the crash host");
    }

    /// <summary>Waits for the child's READY line (a minute at most: dotnet starts slowly on a loaded machine).</summary>
    public static async Task<Multiaddr> ReadyAsync(Process child, CancellationToken cancellationToken)
    {
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ready.CancelAfter(TimeSpan.FromSeconds(60));
        while (await child.StandardOutput.ReadLineAsync(ready.Token) is { } line)
        {
            if (line.StartsWith("READY ", StringComparison.Ordinal)) return Multiaddr.Parse(line["READY ".Length..]);
        }
        throw new InvalidOperationException($"the crash host exited before it was ready: {await child.StandardError.ReadToEndAsync(cancellationToken)}");
    }

    /// <summary>SIGKILL (Process.Kill sends SIGKILL on Linux) and wait for the exit.</summary>
    public static async Task KillAsync(Process child, CancellationToken cancellationToken)
    {
        if (!child.HasExited) child.Kill();
        await child.WaitForExitAsync(cancellationToken);
    }

    /// <summary>A loopback TCP port free right now (the child binds it; SO_REUSEADDR lets a restart bind it again).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Every stored (cursor, blob id) of a one-mailbox server database, after an integrity check.</summary>
    public static async Task<List<(ulong Cursor, string Id)>> ReadStoreAsync(string database, CancellationToken cancellationToken)
    {
        SqliteConnection.ClearAllPools();
        await using var check = new SqliteConnection($"Data Source={database};Pooling=False");
        await check.OpenAsync(cancellationToken);
        await using (var integrity = check.CreateCommand())
        {
            integrity.CommandText = "PRAGMA integrity_check";
            Assert.That(await integrity.ExecuteScalarAsync(cancellationToken), Is.EqualTo("ok"), $"integrity of {database}");
        }
        var stored = new List<(ulong Cursor, string Id)>();
        await using var read = check.CreateCommand();
        read.CommandText = "SELECT k, blob_id FROM blobs ORDER BY k";
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            stored.Add(((ulong)(reader.GetInt64(0) & ((1L << 36) - 1)), Convert.ToHexString((byte[])reader[1])));
        return stored;
    }

    /// <summary>Cursors 1..n without gaps, each blob id once.</summary>
    public static void AssertGaplessAndUnique(IReadOnlyList<(ulong Cursor, string Id)> stored, string what)
    {
        Assert.That(stored.Select(s => s.Cursor), Is.EqualTo(Enumerable.Range(1, stored.Count).Select(i => (ulong)i)), $"{what}: cursors have gaps");
        Assert.That(stored.Select(s => s.Id).Distinct().Count(), Is.EqualTo(stored.Count), $"{what}: a blob was stored twice");
    }
}
