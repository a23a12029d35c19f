using System.Collections.Concurrent;
using KontinuumP2P.Mailbox.Server;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Tests;

/// <summary>A mailbox server on a real host pair with its store in a fresh temporary folder.</summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    private ServerHarness(string directory, HostPair pair, MailboxServer server, ListLoggerProvider logs)
    {
        Directory = directory;
        Pair = pair;
        Server = server;
        Logs = logs;
    }

    public string Directory { get; }

    public HostPair Pair { get; }

    public MailboxServer Server { get; }

    public ListLoggerProvider Logs { get; }

    public MailboxStore Store => Server.Store;

    public static MailboxServerOptions DefaultOptions(string directory) => new()
    {
        Store = new MailboxStoreOptions { DatabasePath = Path.Combine(directory, "mailbox.db") },
    };

    public static async Task<ServerHarness> StartAsync(Func<MailboxServerOptions, MailboxServerOptions>? configure = null, bool tcp = false,
        TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        var directory = Path.Combine(Path.GetTempPath(), "kp-mbx-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var options = DefaultOptions(directory);
        if (configure is not null) options = configure(options);
        var pair = await HostPair.StartAsync(tcp, cancellationToken);
        var logs = new ListLoggerProvider();
        var server = await MailboxServer.StartAsync(pair.Server, options, logs, timeProvider: time, cancellationToken: cancellationToken);
        return new ServerHarness(directory, pair, server, logs);
    }

    public Task<MailboxSession> SessionAsync(CancellationToken cancellationToken) => Pair.SessionAsync(cancellationToken);

    /// <summary>Opens a new session on the mailbox of <paramref name="credentials"/>.</summary>
    public async Task<(MailboxSession Session, MailboxOpenResult Open)> OpenAsync(Credentials credentials, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(cancellationToken);
        var open = await session.OpenAsync(credentials.MailboxId, credentials.Capability, credentials.DeviceId, credentials.ArchiveKey, cancellationToken);
        return (session, open);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Pair.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}

/// <summary>What a device of a group presents to one mailbox.</summary>
internal sealed record Credentials(byte[] MailboxId, byte[] Capability, byte[] DeviceId, byte[] ArchiveKey)
{
    public static Credentials Random(bool archive = false) => new(
        System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
        System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
        System.Security.Cryptography.RandomNumberGenerator.GetBytes(16),
        archive ? System.Security.Cryptography.RandomNumberGenerator.GetBytes(32) : []);

    public Credentials OtherDevice() => this with { DeviceId = System.Security.Cryptography.RandomNumberGenerator.GetBytes(16) };
}

/// <summary>Sealed-looking test blobs and their ids.</summary>
internal static class Blobs
{
    public static (byte[] Data, byte[] Id) Make(int size = 1024)
    {
        var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(size);
        return (data, KontinuumP2P.Certs.Hashing.Blake3.Hash(data));
    }

    public static Task<MailboxPushResult> PushAsync(this MailboxSession session, (byte[] Data, byte[] Id) blob, CancellationToken cancellationToken,
        ulong ttlSeconds = 0) => session.PushAsync(blob.Data, blob.Id, ttlSeconds, cancellationToken);
}

/// <summary>Keeps every formatted log line (and exception text) for assertions.</summary>
internal sealed class ListLoggerProvider : ILoggerFactory
{
    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new ListLogger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{category} {logLevel} {formatter(state, exception)} {exception}");
    }
}
