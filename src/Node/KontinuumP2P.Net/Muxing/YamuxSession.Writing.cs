namespace KontinuumP2P.Net.Muxing;

internal sealed partial class YamuxSession
{
    private readonly Lock _pingLock = new();
    private uint _nextPingOpaque;
    private uint _pingOpaque;
    private bool _pingOutstanding;
    private long _pingSentAt;
    private long _roundTripTicks;

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        var reader = _outbox.Reader;
        long unflushed = 0;
        // Small frames are coalesced until the queue is empty; bulk data is flushed in chunks of this size.
        long flushThreshold = Math.Max(64 * 1024, Options.MaxDataFrameSize);
        Exception? failure = null;
        // The connection's output is shared with streams writing inline (YamuxStream.WriteInlineAsync): the loop
        // holds the lock while it has work and lets go before it waits for more.
        bool locked = false;
        try
        {
            while (true)
            {
                if (!reader.TryRead(out var item))
                {
                    if (unflushed > 0)
                    {
                        unflushed = 0;
                        var flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
                        if (flushed.IsCompleted || flushed.IsCanceled) break;
                    }
                    if (locked)
                    {
                        locked = false;
                        _writeLock.Release();
                    }
                    if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false)) break;
                    continue;
                }

                Interlocked.Decrement(ref _queuedItems);
                if (!locked)
                {
                    await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
                    locked = true;
                }
                if (item.Kind == OutboundKind.Stream)
                {
                    unflushed += item.Stream!.WriteFrames(_output, Options.MaxDataFrameSize, Options.MaxDataFrameSize,
                        out bool more);
                    if (more) item.Stream.ScheduleWrite();
                }
                else
                {
                    item.Header.WriteTo(_output);
                    unflushed += YamuxHeader.Size;
                    if (item.Kind == OutboundKind.Control) _controlSlots.Release();
                    if (item.Kind == OutboundKind.Final)
                    {
                        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
                        break;
                    }
                }

                if (unflushed >= flushThreshold)
                {
                    unflushed = 0;
                    var flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
                    if (flushed.IsCompleted || flushed.IsCanceled) break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Session shutting down (or the close timeout hit).
        }
        catch (Exception ex)
        {
            YamuxLog.WriteFailed(_logger, ex);
            failure = ex;
        }
        if (locked) _writeLock.Release();
        Shutdown(failure);
    }

    private async Task KeepAliveLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(Options.KeepAliveInterval, Time, cancellationToken).ConfigureAwait(false);
                if (!TrySendPing()) YamuxLog.PingUnanswered(_logger, _pingOpaque, Options.KeepAliveInterval);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Session shutting down.
        }
    }

    /// <summary>Sends a ping unless one is still unanswered (one at a time, as js does).</summary>
    private bool TrySendPing()
    {
        uint opaque;
        lock (_pingLock)
        {
            if (_pingOutstanding) return false;
            opaque = _nextPingOpaque++;
            _pingOpaque = opaque;
            _pingOutstanding = true;
            _pingSentAt = Time.GetTimestamp();
        }
        var ping = YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Syn, 0, opaque);
        if (_controlSlots.Wait(0))
        {
            if (Enqueue(OutboundItem.Control(ping))) return true;
            _controlSlots.Release();
        }
        // Not queued (send queue full or session ending): the next tick tries again.
        lock (_pingLock) _pingOutstanding = false;
        return true;
    }

    /// <summary>Matches a ping ACK with our outstanding ping; false for an ACK we never asked for.</summary>
    private bool TryCompletePing(uint opaque)
    {
        TimeSpan rtt;
        lock (_pingLock)
        {
            if (!_pingOutstanding || opaque != _pingOpaque) return false;
            _pingOutstanding = false;
            rtt = Time.GetElapsedTime(_pingSentAt);
        }
        Volatile.Write(ref _roundTripTicks, Math.Max(1, rtt.Ticks));
        _metrics?.PingRtt(rtt);
        YamuxLog.PingRtt(_logger, rtt);
        return true;
    }
}
