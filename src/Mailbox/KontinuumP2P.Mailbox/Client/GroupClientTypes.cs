using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>Settings of a <see cref="GroupClient"/>.</summary>
public sealed record GroupClientOptions
{
    /// <summary>Acknowledgements a push waits for (1..number of mailboxes); null = the group directory's setting.</summary>
    public int? RequiredAcks { get; init; }

    /// <summary>Longest wait to resolve, dial and open one mailbox.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for one push's durable acknowledgement.</summary>
    public TimeSpan PushTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Session settings (request timeout, pipelining).</summary>
    public MailboxSessionOptions Session { get; init; } = new();

    /// <summary>Whether Open carries the slot's archive key (replica mailboxes need it for the archive pusher).</summary>
    public bool SendArchiveKey { get; init; } = true;

    /// <summary>Blobs per pull page asked for (0 = the server's maximum).</summary>
    public int PullLimit { get; init; }

    /// <summary>Bytes per pull page asked for (0 = the server's maximum).</summary>
    public int PullMaxBytes { get; init; }

    /// <summary>TTL asked for on ephemeral mailboxes (0 = the server's default; servers clamp it).</summary>
    public ulong TtlSeconds { get; init; }

    /// <summary>Outbox rows pushed at once per mailbox during a flush.</summary>
    public int FlushParallelism { get; init; } = 32;

    /// <summary>How often <see cref="GroupClient.WatchAsync"/> polls when no notification arrives (and retries unreachable mailboxes).</summary>
    public TimeSpan WatchPollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Jitter source for outbox backoff, in [0, 1).</summary>
    public Func<double> Jitter { get; init; } = Random.Shared.NextDouble;

    /// <summary>The clock of every wait and timestamp of the client: connect and push timeouts, outbox backoff, watch
    /// polls, and the sessions' request timeouts unless <see cref="Session"/> has a clock of its own.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Metrics (pushes, acknowledgements, failures, applied blobs, outbox depth, pull lag); null = a private meter.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; init; }

    /// <summary>Logging.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
}

/// <summary>One mailbox's durable acknowledgement of a push.</summary>
/// <param name="Slot">The mailbox slot.</param>
/// <param name="Cursor">The cursor it assigned.</param>
public sealed record MailboxAck(string Slot, ulong Cursor);

/// <summary>What a push achieved.</summary>
/// <param name="Id">The blob id (the same on every mailbox).</param>
/// <param name="Bytes">Plaintext bytes.</param>
/// <param name="Acked">Mailboxes that acknowledged before the push returned.</param>
/// <param name="Queued">Mailboxes still owed the blob (in the outbox; retried by flushes).</param>
/// <param name="Durable">At least the required number of mailboxes acknowledged.</param>
public sealed record PushOutcome(BlobId Id, int Bytes, IReadOnlyList<MailboxAck> Acked, IReadOnlyList<string> Queued, bool Durable);

/// <summary>What a flush achieved.</summary>
/// <param name="Delivered">Outbox rows acknowledged.</param>
/// <param name="Failed">Rows tried that failed (rescheduled with backoff).</param>
/// <param name="Remaining">Rows left in the outbox.</param>
public sealed record FlushOutcome(int Delivered, int Failed, int Remaining);

/// <summary>A blob newly applied by this device.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Plaintext">The opened plaintext.</param>
/// <param name="Slot">The mailbox it came through.</param>
/// <param name="Cursor">Its cursor there.</param>
public sealed record ReceivedBlob(BlobId Id, ReadOnlyMemory<byte> Plaintext, string Slot, ulong Cursor);

/// <summary>Applies a newly received blob (write it, hand it to the app). Runs one at a time; when it throws, the page
/// is not committed nor acknowledged, and comes again.</summary>
public delegate ValueTask BlobHandler(ReceivedBlob blob, CancellationToken cancellationToken);

/// <summary>What a pull achieved.</summary>
/// <param name="Applied">Blobs newly applied.</param>
/// <param name="Duplicates">Blobs already applied (through another mailbox, or before a reset).</param>
/// <param name="Rejected">Blobs refused: wrong id from the server, or not openable with any group key.</param>
/// <param name="Cursors">Committed position per mailbox slot.</param>
/// <param name="Unreachable">Slots that could not be pulled now.</param>
public sealed record PullOutcome(int Applied, int Duplicates, int Rejected, IReadOnlyDictionary<string, MailboxPosition> Cursors,
    IReadOnlyList<string> Unreachable);

/// <summary>One mailbox as this device sees it.</summary>
/// <param name="Slot">The slot.</param>
/// <param name="PeerId">The node serving it, when resolved.</param>
/// <param name="Reachable">Whether it was reached just now.</param>
/// <param name="Cursor">This device's committed cursor.</param>
/// <param name="Epoch">The epoch of that cursor.</param>
/// <param name="Outbox">Blobs still owed to it.</param>
/// <param name="Error">Why it is unreachable.</param>
/// <param name="Open">The server's first answer, when reached (limits, retention).</param>
public sealed record MailboxStatus(string Slot, PeerId? PeerId, bool Reachable, ulong Cursor, ulong Epoch, int Outbox, string? Error,
    MailboxOpenResult? Open);
