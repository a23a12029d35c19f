using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Muxing;

/// <summary>
/// The application's read side of a stream: a pass-through over the receive pipe that counts what the application
/// consumes, so the stream can hand that much credit back to the remote.
/// </summary>
internal sealed class YamuxStreamReader(YamuxStream stream, PipeReader inner) : PipeReader
{
    private ReadOnlySequence<byte> _lastBuffer;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var pending = inner.ReadAsync(cancellationToken);
        if (!pending.IsCompletedSuccessfully) return AwaitReadAsync(pending);
        // Already completed: reading the result does not block; this path avoids a state machine per read.
        var result = pending.Result;
        _lastBuffer = result.Buffer;
        return new ValueTask<ReadResult>(result);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> AwaitReadAsync(ValueTask<ReadResult> pending)
    {
        var result = await pending.ConfigureAwait(false);
        _lastBuffer = result.Buffer;
        return result;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (!inner.TryRead(out result)) return false;
        _lastBuffer = result.Buffer;
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        // Offsets are taken before the pipe may recycle the segments.
        var buffer = _lastBuffer;
        long consumedBytes = buffer.IsEmpty ? 0 : buffer.GetOffset(consumed) - buffer.GetOffset(buffer.Start);
        bool wantsMore = buffer.IsEmpty || examined.Equals(buffer.End);
        _lastBuffer = default;
        inner.AdvanceTo(consumed, examined);
        stream.OnConsumed(consumedBytes, wantsMore);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        _lastBuffer = default;
        inner.Complete(exception);
        stream.OnInputCompleted();
    }
}

/// <summary>
/// The application's write side of a stream: a pass-through over the send pipe that wakes the session's writer after
/// each flush. Completing it sends FIN; completing it with an exception resets the stream.
/// </summary>
internal sealed class YamuxStreamWriter(YamuxStream stream, PipeWriter inner) : PipeWriter
{
    private int _completed;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    /// <summary>
    /// Sends straight from <paramref name="source"/> when the stream has nothing queued (see
    /// <see cref="YamuxStream.WriteInlineAsync"/>); otherwise, as any pipe, copies it into the send pipe and flushes.
    /// </summary>
    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (stream.IsReset) throw new StreamResetException();
        // Bytes written through GetMemory/Advance and not yet flushed must leave first.
        if (Volatile.Read(ref _completed) != 0 || source.IsEmpty || inner.UnflushedBytes != 0)
            return WriteQueuedAsync(source, cancellationToken);
        return stream.WriteInlineAsync(source, this, cancellationToken);
    }

    /// <summary>The queued way: a copy into the send pipe, then <see cref="FlushAsync"/>.</summary>
    internal ValueTask<FlushResult> WriteQueuedAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken) =>
        base.WriteAsync(source, cancellationToken);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (stream.IsReset) throw new StreamResetException();
        // The pipe commits synchronously inside FlushAsync; the writer is woken after that so it sees the bytes.
        var flush = inner.FlushAsync(cancellationToken);
        stream.ScheduleWrite();
        return flush;
    }

    public override void Complete(Exception? exception = null)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0) return;
        if (exception is not null)
        {
            inner.Complete(exception);
            stream.Reset();
            return;
        }
        inner.Complete();
        stream.ScheduleWrite();
    }
}
