using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Muxing;

/// <summary>
/// The inline send path: a write whose stream has nothing queued is framed (and, over Noise, sealed) straight from the
/// caller's buffer into the connection's output on the caller's thread, with no copy into the send pipe and no
/// hand-off to the session's write loop. Whatever the window or the lock does not allow goes the queued way.
/// </summary>
internal sealed partial class YamuxStream
{
    /// <summary>
    /// Sends <paramref name="source"/>: inline while the remote's credit, the connection's output and the queue allow
    /// (one write-loop quota at a time, so a queued stream is served between quotas), the rest through
    /// <paramref name="queued"/> (the send pipe, which applies its own backpressure).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FlushResult> WriteInlineAsync(ReadOnlyMemory<byte> source, YamuxStreamWriter queued,
        CancellationToken cancellationToken)
    {
        int quota = _session.Options.MaxDataFrameSize;
        while (!source.IsEmpty)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_reset) throw new StreamResetException();
            if (!_session.TryBeginInlineWrite()) break;
            int sent;
            try
            {
                sent = WriteDataInline(source.Span, quota);
                if (sent > 0) await FlushInlineAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _session.EndInlineWrite();
            }
            if (sent == 0) break;
            source = source[sent..];
        }
        return source.IsEmpty ? default : await queued.WriteQueuedAsync(source, cancellationToken).ConfigureAwait(false);
    }

    // Under the session's write lock. Returns 0 (nothing written) when the stream must go the queued way: bytes already
    // wait in its pipe (order), its SYN has not left, it is closing, or the remote gave no credit.
    private int WriteDataInline(ReadOnlySpan<byte> data, int quota)
    {
        if (!_synSent || _sendDone || _reset) return 0;
        // The write loop is not reading the pipe while we hold the lock; anything there must leave before our bytes.
        // (TryRead is false for an empty pipe whose writer is still open: the case that may go inline.)
        if (_sendPipe.Reader.TryRead(out var pending))
        {
            _sendPipe.Reader.AdvanceTo(pending.Buffer.Start);
            return 0;
        }
        var output = _session.InlineOutput;
        var sealing = output as Security.ISealingPipeWriter;
        // A buffer taking several turns is cut at whole Noise frames; one that fits a turn goes as it is.
        if (sealing is not null && data.Length > quota) quota = Security.ISealingPipeWriter.AlignFrame(quota);
        long credit = Volatile.Read(ref _sendCredit);
        int total = (int)Math.Min(Math.Min(data.Length, credit), quota);
        if (total <= 0) return 0;
        // One Data frame per turn: the quota is at most the largest frame.
        YamuxHeader.Create(YamuxFrameType.Data, YamuxFlags.None, Id, (uint)total).WriteTo(output);
        var payload = data[..total];
        if (sealing is not null) sealing.WriteSealed(payload);
        else output.Write(payload);
        Interlocked.Add(ref _sendCredit, -total);
        return total;
    }

    // Flushes the connection's output; its backpressure holds the caller (and the lock) as it holds the write loop.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushInlineAsync(CancellationToken cancellationToken)
    {
        var output = _session.InlineOutput;
        var pending = output.FlushAsync(_session.Lifetime);
        FlushResult result;
        if (pending.IsCompletedSuccessfully)
        {
            result = pending.Result;
        }
        else
        {
            // Only here (the connection is backed up) may the caller's token end the wait: it cancels our own flush.
            await using var registration = cancellationToken.UnsafeRegister(
                static state => ((PipeWriter)state!).CancelPendingFlush(), output).ConfigureAwait(false);
            try
            {
                result = await pending.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_session.Lifetime.IsCancellationRequested)
            {
                throw new StreamResetException("the yamux session ended");
            }
        }
        if (result.IsCanceled)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new StreamResetException("the yamux session ended");
        }
        if (result.IsCompleted) throw new StreamResetException("the yamux session ended");
    }
}
