using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace KontinuumP2P.Archive.Sinks;

/// <summary>
/// <c>s3://BUCKET?endpoint=URL</c>: an S3-compatible object store through AWSSDK.S3 (AWS's own SDK: maintained,
/// path-style addressing and custom endpoints for MinIO, Ceph, Garage or s3rver). Objects are <c>packs/NAME</c> and
/// <c>manifests/NAME</c>. Request checksums are sent only when an operation requires them, since S3-compatible
/// servers do not all speak the SDK's trailing-checksum encoding; integrity is checked by BLAKE3 on read-back anyway.
/// </summary>
public sealed class S3Sink : IArchiveSink
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;

    /// <summary>Connects to a bucket at an endpoint with these credentials.</summary>
    public S3Sink(string bucket, Uri endpoint, string accessKey, string secretKey, string region = "us-east-1")
    {
        ArgumentException.ThrowIfNullOrEmpty(bucket);
        ArgumentNullException.ThrowIfNull(endpoint);
        _bucket = bucket;
        Name = $"s3://{bucket}?endpoint={endpoint}";
        var config = new AmazonS3Config
        {
            ServiceURL = endpoint.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromMinutes(2),
            MaxErrorRetry = 3,
        };
        _client = new AmazonS3Client(new BasicAWSCredentials(accessKey, secretKey), config);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Keys per list request (S3 allows up to 1000).</summary>
    internal int ListPageSize { get; set; } = 1000;

    /// <summary>Creates the bucket when it does not exist yet.</summary>
    public async Task CreateBucketIfMissingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = _bucket }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask PutAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        SinkChecks.BeforePut(id, data.Span);
        if (await ExistsAsync(id, cancellationToken).ConfigureAwait(false)) return;
        await WriteAsync(id, data, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask ReplaceAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        SinkChecks.BeforePut(id, data.Span);
        await WriteAsync(id, data, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<byte[]?> GetAsync(ArchiveObjectId id, long maxBytes, CancellationToken cancellationToken)
    {
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = Key(id) }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        using (response)
        {
            var length = response.ContentLength;
            if (length > maxBytes || length < 0) throw SinkChecks.TooLarge(id, length, maxBytes);
            var data = new byte[length];
            await response.ResponseStream.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
            return data;
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(ArchiveObjectId id, CancellationToken cancellationToken)
    {
        try
        {
            await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = Key(id) }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ArchiveObjectId> ListAsync(ArchiveObjectKind kind, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var prefix = Prefix(kind);
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, MaxKeys = ListPageSize };
        while (true)
        {
            var response = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            var objects = response.S3Objects ?? [];
            foreach (var o in objects)
            {
                if (ArchiveObjectId.TryParse(o.Key[prefix.Length..], out var id) && id.Kind == kind) yield return id;
            }
            if (response.IsTruncated != true || string.IsNullOrEmpty(response.NextContinuationToken)) yield break;
            request.ContinuationToken = response.NextContinuationToken;
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task WriteAsync(ArchiveObjectId id, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var stream = MemoryMarshal.TryGetArray(data, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);
        await using (stream.ConfigureAwait(false))
        {
            var request = new PutObjectRequest
            {
                BucketName = _bucket,
                Key = Key(id),
                InputStream = stream,
                AutoCloseStream = false,
                UseChunkEncoding = false,
                ContentType = "application/octet-stream",
            };
            await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string Prefix(ArchiveObjectKind kind) => kind switch
    {
        ArchiveObjectKind.Pack => "packs/",
        ArchiveObjectKind.Content => "contents/",
        _ => "manifests/",
    };

    private static string Key(ArchiveObjectId id) => Prefix(id.Kind) + id;
}
