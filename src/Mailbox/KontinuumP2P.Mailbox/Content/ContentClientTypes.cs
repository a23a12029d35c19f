using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Client;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>A node that holds (or will hold) a content: a mailbox node of the group.</summary>
/// <param name="Peer">The node.</param>
/// <param name="Addresses">Its addresses (may be empty when the host already knows them).</param>
/// <param name="Mailbox">The group's mailbox keys at that node: needed to put, not to fetch.</param>
/// <param name="DeviceId">This device's id at that mailbox: needed to put.</param>
public sealed record ContentHolder(PeerId Peer, IReadOnlyList<Multiaddr> Addresses, SlotKeys? Mailbox = null, byte[]? DeviceId = null)
{
    /// <summary>The holders of a group: each mailbox slot of its current generation, resolved and checked like the group client does.</summary>
    /// <exception cref="MailboxUnavailableException">A slot could not be resolved or was refused by the verifier.</exception>
    public static async Task<IReadOnlyList<ContentHolder>> ForGroupAsync(GroupStore group, IMailboxResolver resolver, IMailboxVerifier verifier,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(verifier);
        var holders = new List<ContentHolder>();
        foreach (var slot in group.Current.Slots)
        {
            var endpoint = await resolver.ResolveAsync(slot, cancellationToken).ConfigureAwait(false);
            if (verifier.Check(endpoint) is { } refusal) throw new MailboxUnavailableException(slot, $"mailbox {slot}: {refusal}");
            var keys = group.Current.SlotKeys[slot];
            holders.Add(new ContentHolder(endpoint.PeerId, endpoint.Addresses, keys, GroupKeys.DeviceId(group.DeviceSecret, keys)));
        }
        return holders;
    }
}

/// <summary>Settings of a <see cref="ContentClient"/>.</summary>
public sealed record ContentClientOptions
{
    /// <summary>Size limits (a receiver refuses references over them before fetching anything).</summary>
    public ContentLimits Limits { get; init; } = new();

    /// <summary>Plaintext bytes per chunk of an upload.</summary>
    public int ChunkSize { get; init; } = ContentLimits.DefaultChunkSize;

    /// <summary>Streams per holder (1..16).</summary>
    public int StreamsPerHolder { get; init; } = 4;

    /// <summary>Chunk puts written ahead of their acknowledgements on one stream.</summary>
    public int PutWindow { get; init; } = 8;

    /// <summary>Chunks asked for in one fetch.</summary>
    public int FetchBatch { get; init; } = 16;

    /// <summary>Fetches written ahead of their answers on one stream (1..8); each holds a pooled chunk buffer while it is checked.</summary>
    public int FetchDepth { get; init; } = 2;

    /// <summary>How long a dial or any one answer may take.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Verified chunks are opened by the XChaCha20 keystream alone (the first one's tag checked); false opens each
    /// with its tag, as before (the bench compares the two in one run).
    /// </summary>
    internal bool KeystreamOpen { get; init; } = true;

    /// <summary>
    /// The partial file's pages leave the page cache once flushed (<see cref="PageCache"/>); false keeps them cached,
    /// as before (the bench compares the two in one run).
    /// </summary>
    internal bool DropWrittenPages { get; init; } = true;
}

/// <summary>Progress of a transfer (chunks done of the total, bytes of plaintext).</summary>
/// <param name="ChunksDone">Chunks verified (download) or acknowledged by the first holder (upload).</param>
/// <param name="ChunkCount">All chunks.</param>
/// <param name="BytesDone">Plaintext bytes of those chunks.</param>
/// <param name="Size">Plaintext size.</param>
public readonly record struct ContentProgress(int ChunksDone, int ChunkCount, long BytesDone, long Size);

/// <summary>The outcome of an upload.</summary>
/// <param name="Reference">The reference to push to the group (holds the key: seal it).</param>
/// <param name="Stored">Holders that acknowledged every chunk.</param>
/// <param name="Failed">Holders that did not, with the reason.</param>
/// <param name="ChunksSent">Chunks sent in all (chunks a holder already had are not sent).</param>
public sealed record ContentUpload(ContentReference Reference, IReadOnlyList<PeerId> Stored, IReadOnlyList<(PeerId Peer, string Error)> Failed, int ChunksSent);

/// <summary>The outcome of a download.</summary>
/// <param name="Path">The verified, decrypted file.</param>
/// <param name="ChunksResumed">Chunks already in the partial file and verified again locally (not fetched).</param>
/// <param name="ChunksFetched">Chunks fetched and verified.</param>
/// <param name="ChunksRejected">Chunks a holder sent that failed verification (each fetched again elsewhere).</param>
/// <param name="FetchedFrom">Verified chunks per holder.</param>
public sealed record ContentDownload(string Path, int ChunksResumed, int ChunksFetched, int ChunksRejected, IReadOnlyDictionary<PeerId, int> FetchedFrom);
