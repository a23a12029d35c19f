namespace KontinuumP2P.Net.Security;

/// <summary>
/// A secure channel's reader that can open its next whole frame straight into the caller's memory, saving the copy
/// through its own plaintext buffer. The muxer uses it for frames that lie entirely inside a Data payload.
/// </summary>
internal interface ISecureFrameSource
{
    /// <summary>
    /// True when nothing is buffered as plaintext and the next frame, of at most <paramref name="maxPlaintext"/>
    /// plaintext bytes, has fully arrived; the caller must then call <see cref="OpenFrameInto"/> before reading again.
    /// </summary>
    bool TryPeekFrame(long maxPlaintext, out int plaintextLength);

    /// <summary>Decrypts the frame <see cref="TryPeekFrame"/> announced into <paramref name="destination"/> and consumes it.</summary>
    void OpenFrameInto(Span<byte> destination);

    /// <summary>
    /// Waits, without decrypting anything, until a whole frame has arrived: true then (see <see cref="TryPeekFrame"/>);
    /// false when plaintext is buffered or the input ended, failed or was cancelled, which the ordinary read reports.
    /// </summary>
    ValueTask<bool> WaitForFrameAsync(CancellationToken cancellationToken);
}
