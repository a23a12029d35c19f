using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace KontinuumP2P.Net.Security.Noise;

/// <summary>
/// The sending half of a Noise transport: a <see cref="PipeWriter"/> whose buffers are the raw output's own memory,
/// two bytes past a reserved length prefix. Plaintext is sealed in place into ≤ 65519-byte frames when a frame fills
/// up, when the caller needs a buffer the current frame cannot hold, and on flush. No copy, no extra thread: the
/// muxer's writer pays for its own encryption and feels the transport's backpressure directly. Single writer only,
/// as for any <see cref="PipeWriter"/>.
/// </summary>
internal sealed class NoiseEncryptingWriter : PipeWriter, ISealingPipeWriter
{
    // Below this a part is copied into the open frame (coalesced with headers); above it, sealed from the caller's memory.
    private const int DirectSealThreshold = 4096;

    private const int FrameOverhead = NoiseFraming.PrefixSize + CipherState.TagSize;
    private const int FullFrame = NoiseFraming.MaxPlaintextLength + FrameOverhead;

    private readonly PipeWriter _raw;
    private readonly CipherState _cipher;
    private readonly Func<Exception?> _connectionFailure;
    private Memory<byte> _frame;      // raw memory of the open frame (prefix ‖ plaintext ‖ tag room), or empty
    private int _capacity;            // plaintext bytes the open frame can take
    private int _written;             // plaintext bytes written into it so far
    private byte[]? _staging;         // only for callers asking for more than one frame's worth at once
    private bool _completed;

    /// <summary>
    /// Writes through <paramref name="raw"/> with <paramref name="cipher"/> (owned: disposed on completion);
    /// <paramref name="connectionFailure"/> tells whether the connection has been aborted meanwhile.
    /// </summary>
    public NoiseEncryptingWriter(PipeWriter raw, CipherState cipher, Func<Exception?> connectionFailure)
    {
        _raw = raw;
        _cipher = cipher;
        _connectionFailure = connectionFailure;
    }

    /// <summary>Whether <see cref="PipeWriter.Complete"/> has run.</summary>
    public bool IsCompleted => _completed;

    /// <inheritdoc />
    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ThrowIfUnusable();
        ArgumentOutOfRangeException.ThrowIfNegative(sizeHint);
        var wanted = Math.Max(sizeHint, 1);
        if (wanted > NoiseFraming.MaxPlaintextLength)
        {
            // Larger than a frame can carry: hand out a staging buffer that Advance splits into frames.
            SealOpenFrame();
            if (_staging is null || _staging.Length < wanted)
            {
                if (_staging is not null) ArrayPool<byte>.Shared.Return(_staging);
                _staging = ArrayPool<byte>.Shared.Rent(wanted);
            }
            return _staging;
        }
        if (_capacity - _written < wanted) OpenFrame();
        return _frame.Slice(NoiseFraming.PrefixSize + _written, _capacity - _written);
    }

    /// <inheritdoc />
    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    /// <inheritdoc />
    public override void Advance(int bytes)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (bytes == 0) return;
        if (_frame.IsEmpty)
        {
            if (_staging is null || bytes > _staging.Length) throw new InvalidOperationException("Advance past the buffer handed out");
            WriteStaged(_staging.AsSpan(0, bytes));
            return;
        }
        if (bytes > _capacity - _written) throw new InvalidOperationException("Advance past the buffer handed out");
        _written += bytes;
        if (_written == _capacity) SealOpenFrame();
    }

    /// <inheritdoc />
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        SealOpenFrame();
        return _raw.FlushAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override void CancelPendingFlush() => _raw.CancelPendingFlush();

    /// <inheritdoc />
    public override bool CanGetUnflushedBytes => _raw.CanGetUnflushedBytes;

    /// <summary>Bytes not yet flushed: sealed frames waiting in the raw output plus the open frame's plaintext.</summary>
    public override long UnflushedBytes => _raw.UnflushedBytes + _written;

    /// <inheritdoc />
    public override void Complete(Exception? exception = null)
    {
        if (_completed) return;
        _completed = true;
        try
        {
            if (exception is null && _connectionFailure() is null) SealOpenFrame();
        }
        catch (InvalidOperationException ex)
        {
            // The raw output was already closed under us (the connection was aborted).
            exception = ex;
        }
        finally
        {
            if (_staging is not null) ArrayPool<byte>.Shared.Return(_staging);
            _staging = null;
            _cipher.Dispose();
            // A clean completion half-closes the raw connection once what was sealed has been written (TCP FIN).
            _raw.Complete(exception);
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_connectionFailure() is { } failure) throw new IOException("secure connection aborted", failure);
    }

    // Starts a new frame in raw memory, sealing the open one first.
    private void OpenFrame()
    {
        SealOpenFrame();
        var memory = _raw.GetMemory(FullFrame);
        var capacity = Math.Min(memory.Length, FullFrame) - FrameOverhead;
        if (capacity < 1) throw new InvalidOperationException("the raw output handed out a buffer too small for a Noise frame");
        _frame = memory;
        _capacity = capacity;
        _written = 0;
    }

    // Seals the open frame in place (prefix, ciphertext, tag) and commits it to the raw output.
    private void SealOpenFrame()
    {
        if (_frame.IsEmpty) return;
        var frame = _frame.Span;
        var written = _written;
        _frame = Memory<byte>.Empty;
        _capacity = 0;
        _written = 0;
        if (written == 0) return; // nothing to send: the raw memory is simply not committed
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(written + CipherState.TagSize));
        var body = frame.Slice(NoiseFraming.PrefixSize, written + CipherState.TagSize);
        _cipher.EncryptWithAd(ReadOnlySpan<byte>.Empty, body[..written], body);
        _raw.Advance(written + FrameOverhead);
    }

    /// <inheritdoc />
    public void WriteSealed(ReadOnlySpan<byte> plaintext)
    {
        ThrowIfUnusable();
        while (plaintext.Length >= DirectSealThreshold)
        {
            // Frames stay in order: what is open (e.g. the muxer's frame header) is sealed first.
            SealOpenFrame();
            var length = Math.Min(plaintext.Length, NoiseFraming.MaxPlaintextLength);
            var frame = _raw.GetSpan(length + FrameOverhead);
            BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(length + CipherState.TagSize));
            _cipher.EncryptWithAd(ReadOnlySpan<byte>.Empty, plaintext[..length], frame.Slice(NoiseFraming.PrefixSize, length + CipherState.TagSize));
            _raw.Advance(length + FrameOverhead);
            plaintext = plaintext[length..];
        }
        if (!plaintext.IsEmpty) WriteStaged(plaintext);
    }

    private void WriteStaged(ReadOnlySpan<byte> plaintext)
    {
        while (!plaintext.IsEmpty)
        {
            var destination = GetSpan(1);
            var count = Math.Min(destination.Length, plaintext.Length);
            plaintext[..count].CopyTo(destination);
            Advance(count);
            plaintext = plaintext[count..];
        }
    }
}
