using System.IO.Pipelines;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Security;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Hosting;

/// <summary>Noise as the host's security step.</summary>
internal sealed class NoiseConnectionSecurity(NoiseSecurity noise) : IConnectionSecurity, IDisposable
{
    public string ProtocolId => NoiseSecurity.ProtocolId;

    public ValueTask<ISecureConnection> SecureOutboundAsync(ITransportConnection raw, PeerId? expectedRemote, CancellationToken cancellationToken) =>
        noise.SecureOutboundAsync(raw, expectedRemote, cancellationToken);

    public ValueTask<ISecureConnection> SecureInboundAsync(ITransportConnection raw, CancellationToken cancellationToken) =>
        noise.SecureInboundAsync(raw, cancellationToken);

    public void Dispose() => noise.Dispose();
}

/// <summary>Yamux as the host's muxer.</summary>
internal sealed class YamuxMuxerFactory(YamuxOptions options, ILoggerFactory loggerFactory, YamuxMetrics? metrics) : IStreamMuxerFactory
{
    /// <summary>The multistream id of yamux.</summary>
    public const string Id = "/yamux/1.0.0";

    public string ProtocolId => Id;

    /// <summary>The options every session of this factory gets.</summary>
    internal YamuxOptions Options => options;

    public IStreamMuxer Create(IDuplexPipe secured, bool isClient) => Create(secured, isClient, null);

    /// <summary>A session whose streams and received bytes are reserved in <paramref name="resources"/>.</summary>
    public IStreamMuxer Create(IDuplexPipe secured, bool isClient, KontinuumP2P.Core.Resources.ResourceScope? resources) =>
        new YamuxSession(secured, isClient, options, loggerFactory.CreateLogger<YamuxSession>(), metrics, resources);
}

/// <summary>Builds the default security (Noise) and muxer (Yamux) of a host on the host's clock.</summary>
internal static class DefaultUpgrades
{
    /// <summary>Noise advertising exactly <paramref name="muxerIds"/> in the handshake, unless the caller's
    /// <see cref="PeerHostOptions.NoiseOptions"/> set its own list, which must then name only muxers we have.</summary>
    /// <exception cref="ArgumentException">The Noise options advertise a muxer the host cannot run.</exception>
    public static IConnectionSecurity CreateSecurity(PeerHostOptions options, IReadOnlyList<string> muxerIds)
    {
        var given = options.NoiseOptions;
        NoiseOptions noiseOptions;
        if (given is null)
        {
            noiseOptions = new NoiseOptions
            {
                TimeProvider = options.TimeProvider,
                HandshakeTimeout = options.HandshakeTimeout,
                StreamMuxers = muxerIds,
            };
        }
        else if (ReferenceEquals(given.StreamMuxers, NoiseOptions.DefaultStreamMuxers))
        {
            // The caller tuned Noise but left the muxer list alone: advertise what the host really runs.
            noiseOptions = new NoiseOptions
            {
                TimeProvider = given.TimeProvider,
                HandshakeTimeout = given.HandshakeTimeout,
                MaxBufferedBytes = given.MaxBufferedBytes,
                StreamMuxers = muxerIds,
            };
        }
        else
        {
            var unknown = given.StreamMuxers.FirstOrDefault(id => !muxerIds.Contains(id, StringComparer.Ordinal));
            if (unknown is not null)
                throw new ArgumentException($"NoiseOptions.StreamMuxers advertises '{unknown}', but the host's muxer is " +
                    $"'{string.Join("', '", muxerIds)}'", nameof(options));
            noiseOptions = given;
        }
        return new NoiseConnectionSecurity(new NoiseSecurity(options.Identity, noiseOptions, options.LoggerFactory));
    }

    public static IStreamMuxerFactory CreateMuxer(PeerHostOptions options)
    {
        // The session refuses SYNs beyond the host's per-connection limit itself: a flood never holds more streams than the host would serve.
        var yamuxOptions = (options.YamuxOptions ?? new YamuxOptions { TimeProvider = options.TimeProvider })
            .WithInboundLimit(options.MaxInboundStreamsPerConnection);
        var metrics = options.MeterFactory is { } factory ? new YamuxMetrics(factory) : null;
        return new YamuxMuxerFactory(yamuxOptions, options.LoggerFactory, metrics);
    }
}
