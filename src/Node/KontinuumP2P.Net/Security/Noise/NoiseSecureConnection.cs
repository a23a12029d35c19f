using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// The Noise transport phase over a raw connection. Receiving: one owned loop decrypts frames straight from the raw
/// input into a bounded plaintext pipe (<see cref="Input"/>). Sending: <see cref="Output"/> is a
/// <see cref="NoiseEncryptingWriter"/> that seals ≤ 65519-byte frames in place in the raw output's memory. No per-frame
/// allocation: ciphertext and plaintext live in pipe memory, and a frame split across input segments is gathered into
/// one buffer rented for the connection's lifetime.
/// </summary>
internal sealed class NoiseSecureConnection : ISecureConnection
{
    // Flush the plaintext pipe once this much is pending, so a large batch of frames does not pile up unflushed.
    private const int ReadFlushThreshold = 64 * 1024;

    private readonly CipherState _receive;
    private readonly Pipe _inbound;
    private readonly NoiseEncryptingWriter _output;
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private Task _readLoop = Task.CompletedTask;
    private volatile Exception? _failure;
    private int _failed;
    private int _disposed;

    public NoiseSecureConnection(ITransportConnection transport, CipherState send, CipherState receive,
        NoiseRemoteIdentity remote, string? negotiatedMuxer, NoiseOptions options, ILogger logger)
    {
        Transport = transport;
        _receive = receive;
        RemotePeer = remote.PeerId;
        RemotePublicKey = remote.EncodedPublicKey;
        NegotiatedMuxer = negotiatedMuxer;
        _logger = logger;
        // The pipe pauses at MaxBufferedBytes but may overshoot by one flush; the scratch buffer holds one frame.
        BufferBytes = (long)options.MaxBufferedBytes + ReadFlushThreshold + NoiseFraming.MaxMessageLength;
        _inbound = new Pipe(new PipeOptions(pauseWriterThreshold: options.MaxBufferedBytes,
            resumeWriterThreshold: options.MaxBufferedBytes / 2, useSynchronizationContext: false));
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

    /// <summary>Decrypted bytes from the remote; completes on the remote's clean end of stream.</summary>
    public PipeReader Input => _inbound.Reader;

    /// <summary>
    /// Plaintext to send (single writer). Each flush seals what was written; completing it closes the raw output
    /// after the last frame (half-close).
    /// </summary>
    public PipeWriter Output => _output;

    /// <summary>Starts the read loop; called once, right after the handshake.</summary>
    public void Start() => _readLoop = Task.Run(ReadLoopAsync);

    /// <inheritdoc />
    public void Abort() => Fail(new IOException("secure connection aborted"));

    /// <inheritdoc />
    /// <remarks>Call it once the muxer has stopped writing: it completes <see cref="Output"/> itself.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // What was written but not flushed still goes out (completing a pipe writer commits it), then FIN.
        _output.Complete(_failure);
        await _stop.CancelAsync().ConfigureAwait(false);
        await _readLoop.ConfigureAwait(false);
        await _inbound.Reader.CompleteAsync().ConfigureAwait(false);
        await Transport.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    // Ends everything with an error: the read loop stops, writes fail, the raw connection is cut.
    private void Fail(Exception error)
    {
        if (Interlocked.Exchange(ref _failed, 1) != 0) return;
        _failure = error;
        NoiseLog.ConnectionFailed(_logger, RemotePeer.ToString(), error.Message);
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: the read loop has ended.
        }
        Transport.Abort();
    }

    private async Task ReadLoopAsync()
    {
        var input = Transport.Input;
        var plaintext = _inbound.Writer;
        var scratch = ArrayPool<byte>.Shared.Rent(NoiseFraming.MaxMessageLength);
        Exception? error = null;
        try
        {
            var token = _stop.Token;
            var stopped = false;
            while (!stopped)
            {
                var result = await input.ReadAsync(token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (NoiseFraming.TryReadFrame(ref buffer, out var frame))
                {
                    DecryptFrame(frame, plaintext, scratch);
                    if (plaintext.UnflushedBytes >= ReadFlushThreshold &&
                        (await plaintext.FlushAsync(token).ConfigureAwait(false)).IsCompleted)
                    {
                        stopped = true;
                        break;
                    }
                }
                input.AdvanceTo(buffer.Start, buffer.End);
                if (stopped) break;
                if (plaintext.UnflushedBytes > 0 && (await plaintext.FlushAsync(token).ConfigureAwait(false)).IsCompleted) break;
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty) throw new InvalidDataException("connection ended inside a Noise frame");
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            error = _failure;
        }
        catch (Exception ex)
        {
            // After an abort the transport may be torn down under this loop (its reader completed, so ReadAsync throws
            // InvalidOperationException): report the first failure, the cause, not that symptom.
            Fail(ex);
            error = _failure ?? ex;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
            _receive.Dispose();
            await input.CompleteAsync(error).ConfigureAwait(false);
            await plaintext.CompleteAsync(error ?? _failure).ConfigureAwait(false);
        }
    }

    private void DecryptFrame(ReadOnlySequence<byte> frame, PipeWriter plaintext, byte[] scratch)
    {
        if (frame.Length < CipherState.TagSize) throw new InvalidDataException($"Noise frame of {frame.Length} bytes is shorter than its tag");
        var length = (int)frame.Length - CipherState.TagSize;
        ReadOnlySpan<byte> ciphertext;
        if (frame.IsSingleSegment)
        {
            ciphertext = frame.FirstSpan;
        }
        else
        {
            frame.CopyTo(scratch);
            ciphertext = scratch.AsSpan(0, (int)frame.Length);
        }
        var destination = plaintext.GetSpan(length);
        if (!_receive.TryDecryptWithAd(ReadOnlySpan<byte>.Empty, ciphertext, destination, out var written))
            throw new AuthenticationTagMismatchException("Noise transport frame failed authentication");
        plaintext.Advance(written);
    }
}
