using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// The receiving half of a Noise transport, driven by its single reader: no loop or thread of its own. A read that
/// finds no plaintext opens the next frame from the raw input into a small plaintext pipe (one frame per fill, so the
/// frames behind it stay raw); a muxer inside a payload can instead open whole frames straight into its own buffers
/// (<see cref="ISecureFrameSource"/>). Backpressure is the raw input's own bound: nothing is decrypted ahead.
/// </summary>
internal sealed class NoiseDecryptingReader : PipeReader, ISecureFrameSource
{
    private readonly PipeReader _raw;
    private readonly CipherState _cipher;
    private readonly Pipe _plain = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    private readonly Action<Exception> _fail;
    private readonly Func<Exception?> _failure;
    private byte[]? _scratch;                 // a frame split across raw segments is gathered here before opening
    private ReadOnlySequence<byte> _lastBuffer;
    private long _plainBuffered;              // plaintext handed out or waiting, not yet consumed
    private ReadOnlySequence<byte> _peekedRaw;
    private ReadOnlySequence<byte> _peekedFrame;
    private bool _peeked;
    private bool _ended;                      // raw input over: the plaintext writer is completed
    private int _completed;

    /// <summary>
    /// Reads <paramref name="raw"/> with <paramref name="cipher"/> (owned); <paramref name="fail"/> ends the connection
    /// on bad input, <paramref name="failure"/> tells whether it was aborted (the first failure is what readers see).
    /// </summary>
    public NoiseDecryptingReader(PipeReader raw, CipherState cipher, Action<Exception> fail, Func<Exception?> failure)
    {
        _raw = raw;
        _cipher = cipher;
        _fail = fail;
        _failure = failure;
    }

    /// <summary>Frames opened into the plaintext pipe (read by the reader's thread only; for tests and profiles).</summary>
    internal long FramesBuffered { get; private set; }

    /// <summary>Frames opened straight into a caller's buffer through <see cref="OpenFrameInto"/>.</summary>
    internal long FramesDirect { get; private set; }

    /// <inheritdoc />
    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed != 0, this);
        var pending = _plain.Reader.ReadAsync(cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            var result = pending.Result;
            _lastBuffer = result.Buffer;
            return new ValueTask<ReadResult>(result);
        }
        return FillAsync(pending, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> FillAsync(ValueTask<ReadResult> pending, CancellationToken cancellationToken)
    {
        try
        {
            while (!pending.IsCompleted && !_ended)
            {
                if (_failure() is { } failure)
                {
                    End(failure);
                    break;
                }
                var raw = await _raw.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = raw.Buffer;
                if (NoiseFraming.TryReadFrame(ref buffer, out var frame))
                {
                    OpenIntoPlain(frame);
                    // Only what was consumed counts as examined: the frames behind it are read again at once.
                    _raw.AdvanceTo(buffer.Start, buffer.Start);
                    await _plain.Writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    continue;
                }
                _raw.AdvanceTo(buffer.Start, buffer.End);
                if (raw.IsCanceled)
                {
                    // An abort cancels the raw read; otherwise our own reader asked to be woken.
                    if (_failure() is { } aborted) End(aborted);
                    else if (!pending.IsCompleted) _plain.Reader.CancelPendingRead();
                }
                else if (raw.IsCompleted)
                {
                    End(buffer.IsEmpty ? null : new InvalidDataException("connection ended inside a Noise frame"));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The plaintext read was given the same token and ends cancelled too.
        }
        catch (Exception ex)
        {
            End(ex);
        }
        var result = await pending.ConfigureAwait(false);
        _lastBuffer = result.Buffer;
        return result;
    }

    /// <summary>Ends the plaintext: clean (null), or with the connection's first failure.</summary>
    private void End(Exception? error)
    {
        if (_ended) return;
        _ended = true;
        if (error is not null)
        {
            _fail(error);
            error = _failure() ?? error;
        }
        else
        {
            error = _failure();
        }
        _plain.Writer.Complete(error);
        _raw.Complete(error);
    }

    private void OpenIntoPlain(in ReadOnlySequence<byte> frame)
    {
        var length = PlaintextLength(frame);
        var writer = _plain.Writer;
        Open(frame, writer.GetSpan(Math.Max(length, 1)));
        writer.Advance(length);
        _plainBuffered += length;
        FramesBuffered++;
    }

    private static int PlaintextLength(in ReadOnlySequence<byte> frame)
    {
        if (frame.Length < CipherState.TagSize) throw new InvalidDataException($"Noise frame of {frame.Length} bytes is shorter than its tag");
        return (int)frame.Length - CipherState.TagSize;
    }

    private void Open(in ReadOnlySequence<byte> frame, Span<byte> destination)
    {
        ReadOnlySpan<byte> ciphertext;
        if (frame.IsSingleSegment)
        {
            ciphertext = frame.FirstSpan;
        }
        else
        {
            _scratch ??= ArrayPool<byte>.Shared.Rent(NoiseFraming.MaxMessageLength);
            frame.CopyTo(_scratch);
            ciphertext = _scratch.AsSpan(0, (int)frame.Length);
        }
        if (!_cipher.TryDecryptWithAd(ReadOnlySpan<byte>.Empty, ciphertext, destination, out _))
            throw new AuthenticationTagMismatchException("Noise transport frame failed authentication");
    }

    /// <inheritdoc />
    public bool TryPeekFrame(long maxPlaintext, out int plaintextLength)
    {
        plaintextLength = 0;
        if (_peeked) throw new InvalidOperationException("the peeked frame was not opened");
        if (_plainBuffered != 0 || _ended || _completed != 0 || _failure() is not null) return false;
        ReadResult raw;
        try
        {
            if (!_raw.TryRead(out raw)) return false;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            return false; // the raw input failed: the plaintext path reports it
        }
        var buffer = raw.Buffer;
        if (raw.IsCanceled || !NoiseFraming.TryReadFrame(ref buffer, out var frame) ||
            frame.Length < CipherState.TagSize || frame.Length - CipherState.TagSize > maxPlaintext)
        {
            // Left for the plaintext path (which also reports what is wrong); nothing was examined.
            if (raw.IsCanceled) _raw.CancelPendingRead();
            _raw.AdvanceTo(raw.Buffer.Start);
            return false;
        }
        _peeked = true;
        _peekedRaw = buffer;
        _peekedFrame = frame;
        plaintextLength = (int)frame.Length - CipherState.TagSize;
        return true;
    }

    /// <inheritdoc />
    public void OpenFrameInto(Span<byte> destination)
    {
        if (!_peeked) throw new InvalidOperationException("no frame was peeked");
        _peeked = false;
        var rest = _peekedRaw;
        var frame = _peekedFrame;
        _peekedRaw = default;
        _peekedFrame = default;
        try
        {
            Open(frame, destination);
        }
        catch (Exception ex)
        {
            _raw.AdvanceTo(frame.Start);
            End(ex);
            throw;
        }
        _raw.AdvanceTo(rest.Start, rest.Start);
        FramesDirect++;
    }

    /// <inheritdoc />
    public async ValueTask<bool> WaitForFrameAsync(CancellationToken cancellationToken)
    {
        if (_peeked) throw new InvalidOperationException("the peeked frame was not opened");
        while (_plainBuffered == 0 && !_ended && _completed == 0 && _failure() is null)
        {
            ReadResult raw;
            try
            {
                raw = await _raw.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                return false; // the raw input failed: the plaintext path reports it
            }
            var buffer = raw.Buffer;
            if (NoiseFraming.TryReadFrame(ref buffer, out _))
            {
                // Nothing consumed or examined: TryPeekFrame sees the frame at once.
                _raw.AdvanceTo(raw.Buffer.Start);
                return true;
            }
            _raw.AdvanceTo(raw.Buffer.Start, raw.Buffer.End);
            if (raw.IsCanceled)
            {
                // Not ours to swallow: the plaintext path sees the cancellation (an abort, or our reader's wake-up).
                _raw.CancelPendingRead();
                return false;
            }
            if (raw.IsCompleted) return false;
        }
        return false;
    }

    /// <inheritdoc />
    public override bool TryRead(out ReadResult result)
    {
        ObjectDisposedException.ThrowIf(_completed != 0, this);
        if (!_plain.Reader.TryRead(out result)) return false;
        _lastBuffer = result.Buffer;
        return true;
    }

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    /// <inheritdoc />
    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var buffer = _lastBuffer;
        if (!buffer.IsEmpty) _plainBuffered -= buffer.GetOffset(consumed) - buffer.GetOffset(buffer.Start);
        _lastBuffer = default;
        _plain.Reader.AdvanceTo(consumed, examined);
    }

    /// <inheritdoc />
    public override void CancelPendingRead()
    {
        _plain.Reader.CancelPendingRead();
        _raw.CancelPendingRead();
    }

    /// <summary>Wakes a read waiting on the raw input so it sees the connection's failure.</summary>
    public void OnAborted() => _raw.CancelPendingRead();

    /// <inheritdoc />
    public override void Complete(Exception? exception = null)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return;
        _lastBuffer = default;
        _plain.Reader.Complete(exception);
        _plain.Writer.Complete();
        _raw.Complete(exception);
        if (_scratch is not null) ArrayPool<byte>.Shared.Return(_scratch);
        _scratch = null;
        _cipher.Dispose();
    }
}
