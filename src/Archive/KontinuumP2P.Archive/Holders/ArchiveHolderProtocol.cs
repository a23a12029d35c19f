using System.IO.Pipelines;
using System.Text;
using Google.Protobuf;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Archive.Holders;

/// <summary>
/// <c>/kontinuum/archive/1.0.0</c>: archive holders keep packs and manifests for the network's pushers. One request per
/// stream (store, fetch, has, list); object bytes move in raw chunk frames of at most <see cref="ChunkBytes"/>.
/// Holders announce each stored object with a DHT provider record under <see cref="ProviderKey"/> and themselves
/// under <see cref="HoldersKey"/>; both keys sit in the <c>/archive/</c> namespace, so the DHT accepts those
/// announcements only from admitted peers whose certificate carries the <c>archive</c> capability.
/// </summary>
public static class ArchiveHolderProtocol
{
    /// <summary>The protocol id.</summary>
    public const string ProtocolId = "/kontinuum/archive/1.0.0";

    /// <summary>The certificate capability of an archive holder.</summary>
    public const string HolderCapability = "archive";

    /// <summary>The certificate capability a peer needs to store on a holder (the pushers run on mailbox replicas).</summary>
    public const string PusherCapability = "mailbox";

    /// <summary>Largest chunk frame.</summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>Largest request or response frame (a list page of names included).</summary>
    public const int MaxControlFrameBytes = 128 << 10;

    /// <summary>Most names in one list page.</summary>
    public const int MaxListPage = 1000;

    /// <summary>The provider key every holder announces itself under.</summary>
    public static ReadOnlyMemory<byte> HoldersKey { get; } = "/archive/holders"u8.ToArray();

    /// <summary>The provider key of one stored object: <c>/archive/&lt;object name&gt;</c>.</summary>
    public static byte[] ProviderKey(ArchiveObjectId id) => Encoding.UTF8.GetBytes("/archive/" + id);

    internal static void Write(PipeWriter writer, IMessage message) => LengthPrefixed.Write(writer, message.ToByteArray());

    internal static async ValueTask FlushAsync(PipeWriter writer, CancellationToken cancellationToken)
    {
        var flush = await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted) throw new IOException("the remote stopped reading the stream");
    }

    /// <summary>Reads one control frame; null when the stream ended cleanly before it.</summary>
    /// <exception cref="InvalidDataException">Over the cap, truncated or not a valid message.</exception>
    internal static async ValueTask<T?> ReadAsync<T>(PipeReader reader, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        var body = await LengthPrefixed.ReadAsync(reader, MaxControlFrameBytes, cancellationToken).ConfigureAwait(false);
        if (body is null) return null;
        try
        {
            return parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"invalid frame: {e.Message}", e);
        }
    }

    /// <summary>Reads exactly <paramref name="into"/>'s length in chunk frames.</summary>
    /// <exception cref="InvalidDataException">A chunk is over the cap, empty, past the declared size, or the stream ended early.</exception>
    internal static async ValueTask ReadChunksAsync(PipeReader reader, Memory<byte> into, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < into.Length)
        {
            var chunk = await LengthPrefixed.ReadAsync(reader, ChunkBytes, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"stream ended after {filled} of {into.Length} bytes");
            if (chunk.Length == 0 || chunk.Length > into.Length - filled)
                throw new InvalidDataException($"chunk of {chunk.Length} bytes does not fit the {into.Length - filled} bytes still owed");
            chunk.CopyTo(into[filled..]);
            filled += chunk.Length;
        }
    }

    /// <summary>Writes bytes as chunk frames, flushing after each.</summary>
    internal static async ValueTask WriteChunksAsync(PipeWriter writer, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        for (var at = 0; at < data.Length; at += ChunkBytes)
        {
            LengthPrefixed.Write(writer, data.Span.Slice(at, Math.Min(ChunkBytes, data.Length - at)));
            await FlushAsync(writer, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Why a holder refused a request.</summary>
public enum HolderErrorCode
{
    /// <summary>No code (an unknown one was received).</summary>
    Unspecified = 0,

    /// <summary>The request is malformed (unknown object name, bad range).</summary>
    BadRequest = 1,

    /// <summary>The peer may not store here (not an admitted <c>mailbox</c> peer).</summary>
    Unauthorized = 2,

    /// <summary>The pack's bytes do not hash to its id; nothing was stored.</summary>
    HashMismatch = 3,

    /// <summary>Storing it would exceed the holder's quota.</summary>
    QuotaExceeded = 4,

    /// <summary>The object is larger than the holder accepts.</summary>
    TooLarge = 5,

    /// <summary>The holder does not have the object.</summary>
    NotFound = 6,

    /// <summary>Too many streams or stores at once; try later or elsewhere.</summary>
    Busy = 7,

    /// <summary>A manifest is never replaced (its address is not its hash, so a replacement could not be checked).</summary>
    Immutable = 8,

    /// <summary>The holder failed to store or read (disk error).</summary>
    Internal = 9,
}

/// <summary>A holder's refusal, with its code.</summary>
public sealed class HolderException : IOException
{
    /// <summary>Creates the exception.</summary>
    public HolderException(HolderErrorCode code, string message) : base(message) => Code = code;

    /// <summary>Creates the exception (code <see cref="HolderErrorCode.Unspecified"/>).</summary>
    public HolderException() : this(HolderErrorCode.Unspecified, "archive holder error") { }

    /// <summary>Creates the exception (code <see cref="HolderErrorCode.Unspecified"/>).</summary>
    public HolderException(string message) : this(HolderErrorCode.Unspecified, message) { }

    /// <summary>Creates the exception (code <see cref="HolderErrorCode.Unspecified"/>).</summary>
    public HolderException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Why the holder refused.</summary>
    public HolderErrorCode Code { get; }
}
