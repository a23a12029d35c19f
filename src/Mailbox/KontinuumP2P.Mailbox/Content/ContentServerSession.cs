using System.Collections;
using Google.Protobuf;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Resources;
using KontinuumP2P.Mailbox.Protos.Content;
using KontinuumP2P.Mailbox.Wire;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// One inbound content stream: requests are read and answered in order (a client pipelines by writing ahead, or opens
/// more streams). A refusal answers ContentError and the stream goes on; a malformed frame answers MALFORMED and
/// closes this stream only.
/// </summary>
internal sealed partial class ContentServerSession(ContentServer server, IP2PStream stream)
{
    private static readonly TimeSpan RefuseTimeout = TimeSpan.FromSeconds(5);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Contents begun (and so authorised) on this stream: puts are accepted only for these. Bounded by the requests' rate.
    private readonly HashSet<ContentId> _authorised = [];

    public Task Completion => _completion.Task;

    private ContentStore Store => server.Store;

    public void Abort() => stream.Reset();

    public async Task RefuseAsync(ContentErrorCode code, string message, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RefuseTimeout);
        try
        {
            await MailboxFrames.WriteAsync(stream.Output, Error(0, code, message), timeout.Token).ConfigureAwait(false);
            await stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            stream.Reset();
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await ServeOneAsync(cancellationToken).ConfigureAwait(false))
            {
            }
            await stream.Output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            stream.Reset();
        }
        finally
        {
            _completion.TrySetResult();
        }
    }

    private async Task<bool> ServeOneAsync(CancellationToken cancellationToken)
    {
        ContentRequest? request;
        using (var idle = new CancellationTokenSource(server.Options.IdleTimeout, server.Time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token))
        {
            try
            {
                request = await MailboxFrames.ReadAsync(stream.Input, ContentRequest.Parser, ContentProtocol.MaxFrameBytes, linked.Token, stream.Resources).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            catch (InvalidDataException e)
            {
                await WriteAsync(Error(0, ContentErrorCode.Malformed, e.Message), cancellationToken).ConfigureAwait(false);
                return false;
            }
            catch (ResourceLimitExceededException e)
            {
                // The frame is half read: say why, then close this stream only.
                await WriteAsync(OverLimit(0, e), cancellationToken).ConfigureAwait(false);
                return false;
            }
        }
        if (request is null) return false;
        if (request.RequestId == 0 || request.BodyCase == ContentRequest.BodyOneofCase.None)
        {
            await WriteAsync(Error(request.RequestId, ContentErrorCode.Malformed, "a request needs a non-zero request_id and a body"), cancellationToken).ConfigureAwait(false);
            return false;
        }
        try
        {
            switch (request.BodyCase)
            {
                case ContentRequest.BodyOneofCase.Begin:
                    await WriteAsync(await BeginAsync(request.RequestId, request.Begin, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                    break;
                case ContentRequest.BodyOneofCase.Put:
                    await WriteAsync(await PutAsync(request.RequestId, request.Put, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                    break;
                case ContentRequest.BodyOneofCase.Manifest:
                    await WriteAsync(Manifest(request.RequestId, request.Manifest), cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    await FetchAsync(request.RequestId, request.Fetch, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
        catch (ContentException e) when (e.Code == ContentErrorCode.Malformed)
        {
            await WriteAsync(Error(request.RequestId, e.Code, e.Message), cancellationToken).ConfigureAwait(false);
            return false;
        }
        catch (ContentException e)
        {
            await WriteAsync(Error(request.RequestId, e.Code, e.Message), cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceLimitExceededException e)
        {
            // Refused before anything was written: the stream goes on.
            await WriteAsync(OverLimit(request.RequestId, e), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && !cancellationToken.IsCancellationRequested)
        {
            Log.StoreFailed(server.Logger, e);
            await WriteAsync(Error(request.RequestId, ContentErrorCode.Internal, "the node could not store or read the chunk"), cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    private async Task<ContentResponse> BeginAsync(ulong requestId, Begin begin, CancellationToken cancellationToken)
    {
        if (begin.MailboxId.Length != ContentProtocol.IdLength || begin.Capability.Length != ContentProtocol.IdLength
            || begin.DeviceId.Length is < MailboxProtocol.MinDeviceIdLength or > MailboxProtocol.MaxDeviceIdLength)
            throw new ContentException(ContentErrorCode.Malformed, "begin needs a 32-byte mailbox id and capability and a 16..32-byte device id");
        var manifest = ContentManifest.Parse(begin.Manifest.Span, Store.Options.Limits);
        await server.AuthoriseAsync(begin.MailboxId.Memory, begin.Capability.Memory, begin.DeviceId.Memory, cancellationToken).ConfigureAwait(false);
        var (have, expires) = await Store.BeginAsync(manifest, cancellationToken).ConfigureAwait(false);
        if (_authorised.Count >= 1024) _authorised.Clear();
        _authorised.Add(manifest.Id);
        return new ContentResponse
        {
            RequestId = requestId,
            Begin = new BeginResult { Have = ByteString.CopyFrom(Bitmap(have)), ExpiresUnix = (ulong)expires.ToUnixTimeSeconds() },
        };
    }

    private async Task<ContentResponse> PutAsync(ulong requestId, PutChunk put, CancellationToken cancellationToken)
    {
        var id = ParseId(put.ContentId);
        if (!_authorised.Contains(id)) throw new ContentException(ContentErrorCode.Unauthorized, "begin the content on this stream before putting its chunks");
        await Store.PutChunkAsync(id, (int)Math.Min(put.Index, int.MaxValue), put.Data.Memory, cancellationToken).ConfigureAwait(false);
        return new ContentResponse { RequestId = requestId, Put = new PutResult { Index = put.Index } };
    }

    private ContentResponse Manifest(ulong requestId, GetManifest request)
    {
        var found = Store.Find(ParseId(request.ContentId)) ?? throw new ContentException(ContentErrorCode.UnknownContent, "this node holds no such content");
        return new ContentResponse
        {
            RequestId = requestId,
            Manifest = new ManifestResult { Manifest = ByteString.CopyFrom(found.Manifest.Bytes), Have = ByteString.CopyFrom(Bitmap(found.Have)) },
        };
    }

    private async Task FetchAsync(ulong requestId, Fetch fetch, CancellationToken cancellationToken)
    {
        var id = ParseId(fetch.ContentId);
        var found = Store.Find(id) ?? throw new ContentException(ContentErrorCode.UnknownContent, "this node holds no such content");
        if (fetch.Count == 0 || fetch.Count > server.Options.MaxFetchChunks || (ulong)fetch.First + fetch.Count > (ulong)found.Manifest.ChunkCount)
            throw new ContentException(ContentErrorCode.BadRange, $"fetch {fetch.First}+{fetch.Count} is outside the content's {found.Manifest.ChunkCount} chunks or over {server.Options.MaxFetchChunks}");
        // Each chunk is read from its file straight into the stream's send buffer behind its frame header (no copy
        // through a protobuf object); the memory is charged to the stream's scope while the fetch runs.
        var largest = ChunkFrames.MaxHeaderLength + found.Manifest.ChunkSize + ContentCipher.TagLength;
        stream.Resources?.ReserveMemory(largest, "a content chunk");
        try
        {
            for (var index = (int)fetch.First; index < fetch.First + fetch.Count; index++)
            {
                var length = found.Manifest.CiphertextLengthOf(index);
                var memory = stream.Output.GetMemory(ChunkFrames.MaxHeaderLength + length);
                var header = ChunkFrames.WriteHeader(memory.Span, requestId, (uint)index, length);
                if (await Store.ReadChunkIntoAsync(id, index, memory.Slice(header, length), cancellationToken).ConfigureAwait(false) == length)
                {
                    server.CountServed();
                    stream.Output.Advance(header + length);
                    await FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await WriteAsync(new ContentResponse { RequestId = requestId, Chunk = new Chunk { Index = (uint)index, Missing = true } }, cancellationToken)
                        .ConfigureAwait(false);
                }
            }
        }
        finally
        {
            stream.Resources?.ReleaseMemory(largest);
        }
        await WriteAsync(new ContentResponse { RequestId = requestId, FetchEnd = new FetchEnd() }, cancellationToken).ConfigureAwait(false);
    }

    private static ContentId ParseId(ByteString bytes) =>
        bytes.Length == ContentProtocol.IdLength ? ContentId.FromDigest(bytes.Span) : throw new ContentException(ContentErrorCode.Malformed, "a content id has 32 bytes");

    internal static byte[] Bitmap(BitArray have)
    {
        var bytes = new byte[(have.Length + 7) / 8];
        have.CopyTo(bytes, 0);
        return bytes;
    }

    private async Task WriteAsync(ContentResponse response, CancellationToken cancellationToken)
    {
        MailboxFrames.Write(stream.Output, response);
        await FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(server.Options.WriteTimeout, server.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var flush = await stream.Output.FlushAsync(linked.Token).ConfigureAwait(false);
        if (flush.IsCompleted) throw new IOException("the remote stopped reading the stream");
    }

    private ContentResponse OverLimit(ulong requestId, ResourceLimitExceededException refusal)
    {
        Log.OverLimit(server.Logger, stream.Connection.RemotePeer.ToString(), refusal.Reason, refusal.Message);
        return Error(requestId, ContentErrorCode.TooManySessions, refusal.Message);
    }

    private static ContentResponse Error(ulong requestId, ContentErrorCode code, string message) =>
        new() { RequestId = requestId, Error = new ContentError { Code = (uint)code, Message = message } };

    private static partial class Log
    {
        [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "Content store failed a request")]
        public static partial void StoreFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 48, Level = LogLevel.Information, Message = "Content request from {Peer} refused by a resource limit ({Reason}): {Detail}")]
        public static partial void OverLimit(ILogger logger, string peer, string reason, string detail);
    }
}
