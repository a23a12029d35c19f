using System.IO.Pipelines;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// The Noise transport phase over a raw connection. Receiving: <see cref="Input"/> is a <see cref="NoiseDecryptingReader"/>
/// that decrypts on its reader's thread (no loop of its own, no hand-off) and lets a muxer open whole payload frames
/// straight into its stream buffers. Sending: <see cref="Output"/> is a <see cref="NoiseEncryptingWriter"/> that seals
/// ≤ 65519-byte frames in place in the raw output's memory. No per-frame allocation: ciphertext and plaintext live in
/// pipe memory, and a frame split across input segments is gathered into one buffer rented for the connection's lifetime.
/// </summary>
internal sealed class NoiseSecureConnection : ISecureConnection
{
    private readonly NoiseDecryptingReader _input;
    private readonly NoiseEncryptingWriter _output;
    private readonly ILogger _logger;
    private volatile Exception? _failure;
    private int _failed;
    private int _disposed;

    public NoiseSecureConnection(ITransportConnection transport, CipherState send, CipherState receive,
        NoiseRemoteIdentity remote, string? negotiatedMuxer, NoiseOptions options, ILogger logger)
    {
        Transport = transport;
        RemotePeer = remote.PeerId;
        RemotePublicKey = remote.EncodedPublicKey;
        NegotiatedMuxer = negotiatedMuxer;
        _logger = logger;
        // Here at most one opened frame and one gathered split frame wait (the ciphertext waits in the transport, under
        // its own bound); the charge is kept as it was (configured bound + 64 KiB + one frame) so budgets keep their meaning.
        BufferBytes = (long)options.MaxBufferedBytes + 64 * 1024 + NoiseFraming.MaxMessageLength;
        _input = new NoiseDecryptingReader(transport.Input, receive, Fail, () => _failure);
        _output = new NoiseEncryptingWriter(transport.Output, send, () => _failure);
    }

    /// <inheritdoc />
    public PeerId RemotePeer { get; }

    /// <summary>The most this connection buffers on its receiving side (plaintext pipe and scratch frame), charged to its resource scope.</summary>
    public long BufferBytes { get; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> RemotePublicKey { get; }

    /// <inheritdoc />
    public string? NegotiatedMuxer { get; }

    /// <inheritdoc />
    public ITransportConnection Transport { get; }

    /// <summary>Decrypted bytes from the remote (single reader); completes on the remote's clean end of stream.</summary>
    public PipeReader Input => _input;

    /// <summary>
    /// Plaintext to send (single writer). Each flush seals what was written; completing it closes the raw output
    /// after the last frame (half-close).
    /// </summary>
    public PipeWriter Output => _output;

    /// <inheritdoc />
    public void Abort() => Fail(new IOException("secure connection aborted"));

    /// <inheritdoc />
    /// <remarks>Call it once the muxer has stopped reading and writing: it completes <see cref="Input"/> and <see cref="Output"/> itself.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // What was written but not flushed still goes out (completing a pipe writer commits it), then FIN.
        _output.Complete(_failure);
        _input.Complete();
        await Transport.DisposeAsync().ConfigureAwait(false);
    }

    // Ends everything with an error: reads see it, writes fail, the raw connection is cut.
    private void Fail(Exception error)
    {
        if (Interlocked.Exchange(ref _failed, 1) != 0) return;
        _failure = error;
        NoiseLog.ConnectionFailed(_logger, RemotePeer.ToString(), error.Message);
        _input.OnAborted();
        Transport.Abort();
    }
}
