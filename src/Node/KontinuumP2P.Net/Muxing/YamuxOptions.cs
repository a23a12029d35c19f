namespace KontinuumP2P.Net.Muxing;

/// <summary>Settings of one yamux session. Defaults match js-libp2p yamux where it matters on the wire.</summary>
public sealed class YamuxOptions
{
    /// <summary>The window every yamux stream starts with in both directions, fixed by the spec (256 KiB).</summary>
    public const int SpecInitialWindow = 256 * 1024;

    /// <summary>Receive window a new stream starts with; larger values are announced in the stream's first frame.</summary>
    public int InitialStreamWindow { get; init; } = SpecInitialWindow;

    /// <summary>Upper bound of a stream's receive window while auto-tuning (js: 16 MiB); equal to the initial window turns tuning off.</summary>
    public int MaxStreamWindow { get; init; } = 16 * 1024 * 1024;

    private int _maxInboundStreams = 1000;

    /// <summary>
    /// Concurrent inbound streams; SYNs beyond this are answered with RST. A host lowers it to its own
    /// per-connection stream limit, so a SYN flood is refused at the session instead of being held until the host's
    /// accept loop refuses it.
    /// </summary>
    public int MaxInboundStreams { get => _maxInboundStreams; init => _maxInboundStreams = value; }

    /// <summary>Concurrent outbound streams; opening more throws.</summary>
    public int MaxOutboundStreams { get; init; } = 1000;

    /// <summary>Inbound streams received but not yet accepted (and so not acknowledged); SYNs beyond this get RST.</summary>
    public int AcceptBacklog { get; init; } = 256;

    /// <summary>Bytes an application may buffer in a stream's output before its flush waits for the muxer to send.</summary>
    public int StreamSendBufferSize { get; init; } = 128 * 1024;

    /// <summary>Largest Data payload written in one frame (also the per-turn share of one stream on a busy session).</summary>
    public int MaxDataFrameSize { get; init; } = 256 * 1024;

    /// <summary>Control frames (pongs, refusals) queued for sending before the read loop stops reading to wait.</summary>
    public int MaxPendingControlFrames { get; init; } = 1024;

    /// <summary>Interval of keep-alive pings; <see cref="TimeSpan.Zero"/> turns them off.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.Zero;

    /// <summary>Sends one ping when the session starts (as js does) to learn the round-trip time for window tuning.</summary>
    public bool PingOnStart { get; init; } = true;

    /// <summary>How long a closing session waits for its GoAway to be written before it aborts.</summary>
    public TimeSpan CloseTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a stream the application has disposed waits for the remote's FIN before it is reset: without it a peer
    /// that never closes its side keeps the stream (and its resource-scope slot) for the life of the connection.
    /// go-yamux uses the same 5 minutes.
    /// </summary>
    public TimeSpan StreamCloseTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Clock for pings, window tuning and timeouts.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Checks the values; throws <see cref="ArgumentOutOfRangeException"/> naming the bad one.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialStreamWindow, SpecInitialWindow, nameof(InitialStreamWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStreamWindow, InitialStreamWindow, nameof(MaxStreamWindow));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxInboundStreams, nameof(MaxInboundStreams));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxOutboundStreams, nameof(MaxOutboundStreams));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(AcceptBacklog, nameof(AcceptBacklog));
        ArgumentOutOfRangeException.ThrowIfLessThan(StreamSendBufferSize, 1024, nameof(StreamSendBufferSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDataFrameSize, 1024, nameof(MaxDataFrameSize));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxPendingControlFrames, nameof(MaxPendingControlFrames));
        ArgumentOutOfRangeException.ThrowIfLessThan(KeepAliveInterval, TimeSpan.Zero, nameof(KeepAliveInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(CloseTimeout, TimeSpan.Zero, nameof(CloseTimeout));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(StreamCloseTimeout.Ticks, nameof(StreamCloseTimeout));
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    /// <summary>These options with <see cref="MaxInboundStreams"/> at most <paramref name="limit"/> (the same instance when it already is).</summary>
    internal YamuxOptions WithInboundLimit(int limit)
    {
        if (_maxInboundStreams <= limit) return this;
        var lowered = (YamuxOptions)MemberwiseClone();
        lowered._maxInboundStreams = limit;
        return lowered;
    }
}
