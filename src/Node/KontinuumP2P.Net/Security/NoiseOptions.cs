namespace KontinuumP2P.Net.Security;

/// <summary>Settings of the Noise security layer (<see cref="NoiseSecurity"/>).</summary>
public sealed class NoiseOptions
{
    /// <summary>The default muxer list: what js-libp2p advertises.</summary>
    public static IReadOnlyList<string> DefaultStreamMuxers { get; } = ["/yamux/1.0.0"];

    /// <summary>
    /// Muxers advertised inside the handshake (inlined muxer negotiation), in preference order. Default
    /// <c>["/yamux/1.0.0"]</c>; a host given the default replaces it with its own muxer's id. An empty list skips the
    /// inlined negotiation (a multistream round follows when neither side advertises).
    /// </summary>
    public IReadOnlyList<string> StreamMuxers { get; set; } = DefaultStreamMuxers;

    /// <summary>Bound on the whole handshake, from the first byte to the last message. Default 10 s (as js).</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Decrypted bytes buffered inside a secure connection before it stops reading the socket (backpressure when
    /// the muxer falls behind). Default 1 MiB. The sending side has no buffer of its own: it writes into the
    /// transport's.
    /// </summary>
    public int MaxBufferedBytes { get; set; } = 1 << 20;

    /// <summary>Clock for the timeouts.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(StreamMuxers);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        if (StreamMuxers.Any(string.IsNullOrEmpty)) throw new ArgumentException("muxer ids must not be empty", nameof(StreamMuxers));
        if (HandshakeTimeout <= TimeSpan.Zero) throw new ArgumentException("handshake timeout must be positive", nameof(HandshakeTimeout));
        if (MaxBufferedBytes < 64 * 1024) throw new ArgumentException("buffer bound must be at least 64 KiB", nameof(MaxBufferedBytes));
    }
}
