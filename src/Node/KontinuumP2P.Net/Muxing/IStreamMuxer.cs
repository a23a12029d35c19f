using System.IO.Pipelines;

namespace KontinuumP2P.Net.Muxing;

/// <summary>
/// A multiplexed session over a secure connection. Completing a stream's output half-closes it (FIN); the remote's FIN
/// completes its input; <see cref="IMuxedStream.Reset"/> aborts it (RST).
/// </summary>
public interface IStreamMuxer : IAsyncDisposable
{
    /// <summary>Opens a new outbound stream.</summary>
    /// <exception cref="IOException">The session is closed or the outbound stream limit is reached.</exception>
    ValueTask<IMuxedStream> OpenStreamAsync(CancellationToken cancellationToken);

    /// <summary>Waits for the next inbound stream; null once the session has ended.</summary>
    ValueTask<IMuxedStream?> AcceptStreamAsync(CancellationToken cancellationToken);

    /// <summary>Completes when the session has ended, for whatever reason.</summary>
    Task Completion { get; }

    /// <summary>Number of streams not yet fully closed.</summary>
    int ActiveStreams { get; }

    /// <summary>Sends GoAway (normal), stops accepting new streams and closes once the write side is flushed.</summary>
    ValueTask CloseAsync(CancellationToken cancellationToken);

    /// <summary>Ends the session at once, resetting every stream.</summary>
    void Abort();
}

/// <summary>One stream of a <see cref="IStreamMuxer"/>.</summary>
public interface IMuxedStream : IDuplexPipe, IAsyncDisposable
{
    /// <summary>The stream id on the wire.</summary>
    uint Id { get; }

    /// <summary>Aborts the stream in both directions.</summary>
    void Reset();
}
