namespace KontinuumP2P.Net.Security;

/// <summary>
/// A secure channel's writer that can encrypt bulk bytes straight from the caller's memory into its transport
/// buffers, saving the copy into its own plaintext buffer first. The muxer uses it for Data payloads.
/// </summary>
internal interface ISealingPipeWriter
{
    /// <summary>
    /// Writes <paramref name="plaintext"/> after everything written so far, as if through
    /// <c>PipeWriter.Write</c>; large parts are sealed directly from
    /// <paramref name="plaintext"/>.
    /// </summary>
    void WriteSealed(ReadOnlySpan<byte> plaintext);

    /// <summary>
    /// The largest multiple of the secure channel's frame payload not above <paramref name="maxLength"/> (or
    /// <paramref name="maxLength"/> when below one frame): a muxer frame of that size seals into whole frames, with no
    /// short tail frame (which costs its own seal, open and receive buffer).
    /// </summary>
    static int AlignFrame(int maxLength) =>
        maxLength < Noise.NoiseFraming.MaxPlaintextLength ? maxLength : maxLength - maxLength % Noise.NoiseFraming.MaxPlaintextLength;
}
