namespace KontinuumP2P.Mailbox.Wire;

/// <summary>Constants of the <c>/kontinuum/mailbox/1.0.0</c> protocol shared by servers and clients.</summary>
public static class MailboxProtocol
{
    /// <summary>The protocol id negotiated by multistream-select.</summary>
    public const string ProtocolId = "/kontinuum/mailbox/1.0.0";

    /// <summary>Length of a mailbox id, a capability, a blob id and an archive key.</summary>
    public const int IdLength = 32;

    /// <summary>Shortest device id accepted.</summary>
    public const int MinDeviceIdLength = 16;

    /// <summary>Longest device id accepted.</summary>
    public const int MaxDeviceIdLength = 32;

    /// <summary>Largest sealed blob the protocol can carry: 1 MiB of plaintext plus the seal's overhead.</summary>
    public const int MaxBlobBytes = (1 << 20) + 64;

    /// <summary>Cap on a request frame (a push of the largest blob plus slack for its fields).</summary>
    public const int MaxRequestFrameBytes = (1 << 20) + (64 << 10);

    /// <summary>Cap on any response frame that is not a pull result.</summary>
    public const int MaxSmallFrameBytes = 64 << 10;

    /// <summary>Per-blob framing allowance in a pull result (cursor, id, tags and lengths).</summary>
    public const int PullOverheadPerBlob = 64;

    /// <summary>Cap on a pull result frame for the given page limits (at least one blob of the largest size fits).</summary>
    public static int MaxPullFrameBytes(int maxPullBlobs, int maxPullBytes) =>
        (int)Math.Min(int.MaxValue, (long)Math.Max(maxPullBytes, MaxBlobBytes) + ((long)maxPullBlobs * PullOverheadPerBlob) + MaxSmallFrameBytes);
}

/// <summary>The distinct refusals a mailbox server answers with.</summary>
public enum MailboxErrorCode
{
    /// <summary>Unknown or unset code.</summary>
    Unspecified = 0,

    /// <summary>The capability does not match the mailbox's.</summary>
    Unauthorized = 1,

    /// <summary>The blob is over the server's size limit.</summary>
    BlobTooLarge = 2,

    /// <summary>The mailbox is at its byte or blob quota.</summary>
    MailboxQuota = 3,

    /// <summary>The server's database is at its size cap.</summary>
    ServerFull = 4,

    /// <summary>Too many pushes or requests; retry after the given delay.</summary>
    RateLimited = 5,

    /// <summary>A cursor past the mailbox's end.</summary>
    BadCursor = 6,

    /// <summary>The request named an epoch that is not the store's.</summary>
    EpochChanged = 7,

    /// <summary>The server is stopping.</summary>
    ShuttingDown = 8,

    /// <summary>A request was not understood; the stream is closed.</summary>
    Malformed = 9,

    /// <summary>A request came before Open.</summary>
    NotOpen = 10,

    /// <summary>The blob id is not the BLAKE3 hash of the blob.</summary>
    BadBlobId = 11,

    /// <summary>The server has as many sessions as it serves.</summary>
    TooManySessions = 12,

    /// <summary>The server failed (for example its disk); nothing was stored.</summary>
    Internal = 13,

    /// <summary>This device was removed from the mailbox by a group member.</summary>
    DeviceRemoved = 14,

    /// <summary>The mailbox was closed (after a rotation); its id stays tombstoned for a while.</summary>
    MailboxClosed = 15,
}

/// <summary>A refusal from a mailbox server.</summary>
public sealed class MailboxException : IOException
{
    /// <summary>Creates the exception.</summary>
    public MailboxException(MailboxErrorCode code, string message, TimeSpan retryAfter = default, ulong epoch = 0)
        : base($"{code}: {message}")
    {
        Code = code;
        RetryAfter = retryAfter;
        Epoch = epoch;
    }

    /// <summary>Creates the exception (for serializers and analyzers).</summary>
    public MailboxException() : this(MailboxErrorCode.Unspecified, "mailbox error") { }

    /// <summary>Creates the exception with a message.</summary>
    public MailboxException(string message) : this(MailboxErrorCode.Unspecified, message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public MailboxException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The refusal.</summary>
    public MailboxErrorCode Code { get; }

    /// <summary>How long to wait before retrying (rate limits), or zero.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>The server's epoch, with <see cref="MailboxErrorCode.EpochChanged"/>.</summary>
    public ulong Epoch { get; }
}
