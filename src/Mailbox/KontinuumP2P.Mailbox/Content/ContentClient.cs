using System.Buffers;
using System.Collections;
using Google.Protobuf;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Protos.Content;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Sends and receives large content over <c>/kontinuum/content/1.0.0</c>. An upload encrypts then hashes the file,
/// begins it at every holder (a mailbox node of the group, authorised by the group's capability there) and puts only
/// the chunks each holder lacks, pipelined on a few streams per holder; the caller then pushes
/// <see cref="ContentReference.ToBlob"/> through the group client. A download verifies the manifest against the id,
/// fetches ranges of chunks from every holder in parallel, checks each chunk's hash before decrypting it, refetches a
/// chunk that fails from another holder, and resumes from its partial file without refetching chunks that verify.
/// </summary>
public sealed partial class ContentClient
{
    private readonly IPeerHost _host;
    private volatile PreparedFile? _prepared;

    /// <summary>Creates a client on <paramref name="host"/>.</summary>
    public ContentClient(IPeerHost host, ContentClientOptions? options = null)
    {
        _host = host ?? throw new ArgumentNullException(nameof(host));
        Options = options ?? new ContentClientOptions();
        Options.Limits.Validate();
        if (Options.StreamsPerHolder is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(options), "StreamsPerHolder must be 1..16");
        if (Options.PutWindow is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(options), "PutWindow must be 1..64");
        if (Options.FetchBatch is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(options), "FetchBatch must be 1..1024");
        if (Options.FetchDepth is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(options), "FetchDepth must be 1..8");
    }

    /// <summary>The options in force.</summary>
    public ContentClientOptions Options { get; }

    /// <summary>Chunks this client sealed for uploads (encryption passes × chunks; tests count the passes).</summary>
    internal SealCounter Sealed { get; } = new();

    /// <summary>Encrypts, hashes and stores <paramref name="path"/> at every holder that accepts it.</summary>
    /// <exception cref="ContentException">A limit, or no holder stored every chunk (the message lists why).</exception>
    public async Task<ContentUpload> UploadAsync(string path, IReadOnlyList<ContentHolder> holders, IProgress<ContentProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        CheckHolders(holders);
        var (reference, manifest) = await ContentEncoder.PrepareAsync(path, Options.Limits, Options.ChunkSize, Sealed, cancellationToken).ConfigureAwait(false);
        return await PutAsync(path, reference, manifest, holders, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Encrypts and hashes <paramref name="path"/> under a fresh key and returns its reference without storing anything:
    /// a caller that keeps the reference (it holds the key: keep it secret) before <see cref="ResumeUploadAsync"/> can
    /// resume an interrupted upload later, even from another process.
    /// </summary>
    /// <exception cref="ContentException">The file breaks a limit.</exception>
    public async Task<ContentReference> PrepareUploadAsync(string path, CancellationToken cancellationToken = default)
    {
        var stamp = PreparedFile.Stamp(path);
        var (reference, manifest) = await ContentEncoder.PrepareAsync(path, Options.Limits, Options.ChunkSize, Sealed, cancellationToken).ConfigureAwait(false);
        // Kept (the last one only) so the upload that follows does not encrypt the file a second time.
        _prepared = stamp with { Manifest = manifest };
        return reference;
    }

    /// <summary>
    /// Uploads <paramref name="path"/> under an existing <paramref name="reference"/> (from <see cref="PrepareUploadAsync"/>
    /// or an earlier upload), putting to each holder only the chunks it lacks: an upload interrupted at any point
    /// resumes without sending again what a holder acknowledged. <see cref="ContentUpload.ChunksSent"/> counts what was sent.
    /// </summary>
    /// <exception cref="ContentException">The file changed since the reference was made (<see cref="ContentErrorCode.BadManifest"/>),
    /// a limit, or no holder stored every chunk.</exception>
    public async Task<ContentUpload> ResumeUploadAsync(string path, ContentReference reference, IReadOnlyList<ContentHolder> holders,
        IProgress<ContentProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        CheckHolders(holders);
        // A reference this client just prepared from the same unchanged file (path, size, modification time) reuses its
        // manifest; any other is re-encrypted to check the file still matches the content id.
        var manifest = _prepared is { } prepared && prepared.Manifest!.Id.Equals(reference.Id) && prepared == PreparedFile.Stamp(path) with { Manifest = prepared.Manifest }
            ? prepared.Manifest
            : await ContentEncoder.PrepareAgainAsync(path, Options.Limits, reference, Sealed, cancellationToken).ConfigureAwait(false);
        return await PutAsync(path, reference, manifest, holders, progress, cancellationToken).ConfigureAwait(false);
    }

    private sealed record PreparedFile(string Path, long Length, DateTime Modified, ContentManifest? Manifest)
    {
        public static PreparedFile Stamp(string path)
        {
            var info = new FileInfo(path);
            return new PreparedFile(info.FullName, info.Exists ? info.Length : -1, info.Exists ? info.LastWriteTimeUtc : default, null);
        }
    }

    private static void CheckHolders(IReadOnlyList<ContentHolder> holders)
    {
        ArgumentNullException.ThrowIfNull(holders);
        if (holders.Count == 0 || holders.Any(h => h.Mailbox is null || h.DeviceId is null))
            throw new ArgumentException("an upload needs at least one holder, each with its mailbox keys and device id", nameof(holders));
    }
}
