using System.Web;

namespace KontinuumP2P.Archive.Sinks;

/// <summary>Opens a sink from its command-line form.</summary>
public static class ArchiveSinks
{
    /// <summary>
    /// Opens <c>dir:PATH</c> or <c>s3://BUCKET?endpoint=URL</c> (credentials from <c>AWS_ACCESS_KEY_ID</c> and
    /// <c>AWS_SECRET_ACCESS_KEY</c>, region from <c>AWS_REGION</c>, default us-east-1). <c>peers</c> needs a running
    /// node (its host and DHT): open it with <see cref="PeersSink"/> (a node's <c>OpenPeersArchiveSink</c>).
    /// </summary>
    /// <exception cref="FormatException">The text names no sink.</exception>
    /// <exception cref="NotSupportedException">The sink is <c>peers</c>, which this overload cannot open without a node.</exception>
    public static IArchiveSink Open(string sink, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        environment ??= Environment.GetEnvironmentVariable;
        if (sink.StartsWith("dir:", StringComparison.Ordinal) && sink.Length > 4) return new DirectorySink(sink[4..]);
        if (sink == "peers")
            throw new NotSupportedException("the peers sink needs a running node (host and DHT): KontinuumNode.OpenPeersArchiveSink, [archive] sinks = [\"peers\"] in node.toml, or the CLI's --sink peers");
        if (sink.StartsWith("s3://", StringComparison.Ordinal))
        {
            var uri = new Uri(sink);
            var bucket = uri.Host;
            var endpoint = HttpUtility.ParseQueryString(uri.Query)["endpoint"];
            if (string.IsNullOrEmpty(bucket) || string.IsNullOrEmpty(endpoint) || !Uri.TryCreate(endpoint, UriKind.Absolute, out var endpointUri))
                throw new FormatException($"sink '{sink}': expected s3://BUCKET?endpoint=URL");
            var access = environment("AWS_ACCESS_KEY_ID");
            var secret = environment("AWS_SECRET_ACCESS_KEY");
            if (string.IsNullOrEmpty(access) || string.IsNullOrEmpty(secret))
                throw new FormatException($"sink '{sink}': set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the S3 endpoint");
            return new S3Sink(bucket, endpointUri, access, secret, environment("AWS_REGION") ?? "us-east-1");
        }
        throw new FormatException($"sink '{sink}' is not dir:PATH, s3://BUCKET?endpoint=URL or peers");
    }
}
