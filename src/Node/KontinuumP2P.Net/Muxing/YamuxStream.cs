using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Core.Resources;

namespace KontinuumP2P.Net.Muxing;

/// <summary>
/// One yamux stream. The session's read loop feeds the receive pipe and the session's write loop drains the send pipe,
/// so the application never touches the connection. Each direction has its own credit: the remote may send at most
/// what we granted (checked by the read loop), and the write loop never sends more than the remote granted.
/// </summary>
internal sealed partial class YamuxStream : IMuxedStream
{
    private readonly YamuxSession _session;
    private readonly Lock _lock = new();
    private readonly Pipe _receivePipe;
    private readonly Pipe _sendPipe;
    private readonly YamuxStreamReader _input;
    private readonly YamuxStreamWriter _output;

    // Send direction. _synSent and _sendDone belong to whoever holds the session's write lock (write loop or inline writer).
    private long _sendCredit = YamuxOptions.SpecInitialWindow;
    private long _windowDeltaPending;
    private int _scheduled;
    // 1 while the write loop may have left data in the pipe for want of credit: only then does new credit wake it.
    private int _waitingForCredit;
    private int _ackPending;
    private int _localResetPending;
    private bool _synSent;
    private bool _sendDone;

    // Receive direction. _receiveCredit is taken by the read loop and granted by readers; the rest is under _lock.
    private long _receiveCredit;
    private long _receiveWindow;
    private long _unreturned;
    private long _buffered;
    private long _charged;
    private long _epochStart;
    private bool _remoteFin;
    private bool _localFinSent;
    private bool _inputDiscarded;
    private bool _closed;
    // True while the read loop opens a frame into the receive pipe outside _lock; a reset meanwhile leaves the pipe
    // writer's completion (with this error) to the read loop, the pipe's only writer.
    private bool _delivering;
    private Exception? _completionAfterDelivery;
    private volatile bool _reset;
    private readonly TimeSpan _closeTimeout;
    private ITimer? _closeTimer;

    public YamuxStream(YamuxSession session, uint id, bool outbound, YamuxOptions options, MemoryPool<byte> pool)
    {
        _session = session;
        _closeTimeout = options.StreamCloseTimeout;
        Id = id;
        IsOutbound = outbound;
        _synSent = !outbound;
        _receiveWindow = options.InitialStreamWindow;
        _receiveCredit = options.InitialStreamWindow;
        // A window above the spec's 256 KiB is announced in the first frame of the stream.
        _windowDeltaPending = options.InitialStreamWindow - YamuxOptions.SpecInitialWindow;
        _epochStart = session.Time.GetTimestamp();
        // Flow control bounds the receive buffer, so its pipe never pauses the read loop.
        _receivePipe = new Pipe(new PipeOptions(pool, pauseWriterThreshold: 0, resumeWriterThreshold: 0,
            minimumSegmentSize: 16 * 1024, useSynchronizationContext: false));
        _sendPipe = new Pipe(new PipeOptions(pool, pauseWriterThreshold: options.StreamSendBufferSize,
            resumeWriterThreshold: options.StreamSendBufferSize / 2, minimumSegmentSize: 16 * 1024,
            useSynchronizationContext: false));
        _input = new YamuxStreamReader(this, _receivePipe.Reader);
        _output = new YamuxStreamWriter(this, _sendPipe.Writer);
    }

    /// <inheritdoc />
    public uint Id { get; }

    /// <summary>Whether we opened the stream.</summary>
    public bool IsOutbound { get; }

    /// <inheritdoc />
    public PipeReader Input => _input;

    /// <inheritdoc />
    public PipeWriter Output => _output;

    public bool IsReset => _reset;

    /// <summary>Bytes received and not yet consumed by the application.</summary>
    public long BufferedBytes
    {
        get { lock (_lock) return _buffered; }
    }

    /// <summary>Credit the remote still has for sending to us.</summary>
    public long ReceiveCredit => Volatile.Read(ref _receiveCredit);

    /// <summary>Credit we still have for sending to the remote.</summary>
    public long SendCredit => Volatile.Read(ref _sendCredit);

    /// <summary>The current receive window (grows by auto-tuning).</summary>
    public long ReceiveWindow
    {
        get { lock (_lock) return _receiveWindow; }
    }

    /// <inheritdoc />
    public void Reset() => ResetCore(sendReset: true, new StreamResetException());

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _output.Complete();
        _input.Complete();
        // Our FIN is on its way; if the remote never sends its own, reset after the close timeout so the stream is released.
        lock (_lock)
        {
            if (!_closed && _closeTimer is null)
                _closeTimer = _session.Time.CreateTimer(static state => ((YamuxStream)state!).OnCloseTimeout(), this, _closeTimeout, Timeout.InfiniteTimeSpan);
        }
        return ValueTask.CompletedTask;
    }

    private void OnCloseTimeout() => ResetCore(sendReset: true, new StreamResetException("the remote did not close the stream in time"));

    // Called with _lock held whenever the stream becomes closed.
    private void StopCloseTimer()
    {
        _closeTimer?.Dispose();
        _closeTimer = null;
    }

    /// <summary>Wakes the session's write loop for this stream (once until it is served).</summary>
    public void ScheduleWrite()
    {
        if (Interlocked.Exchange(ref _scheduled, 1) == 0) _session.Schedule(this);
    }

    /// <summary>The application accepted the stream: our next frame carries ACK.</summary>
    public void MarkAccepted()
    {
        Volatile.Write(ref _ackPending, 1);
        ScheduleWrite();
    }

    // ---- read loop side ----

    /// <summary>Takes <paramref name="length"/> bytes of the remote's credit; false when it sends beyond the window.</summary>
    public bool TryTakeReceiveCredit(uint length)
    {
        // Only the read loop takes credit; readers add grants concurrently.
        if (length > Volatile.Read(ref _receiveCredit)) return false;
        Interlocked.Add(ref _receiveCredit, -(long)length);
        return true;
    }

    /// <summary>Appends payload to the receive pipe (or drops it once the stream is reset or its reader is gone).</summary>
    public ValueTask<FlushResult> DeliverAsync(in ReadOnlySequence<byte> payload)
    {
        ValueTask<FlushResult> flush;
        long discarded;
        string? refusal = null;
        lock (_lock)
        {
            if (_reset || _remoteFin) return default;
            // Bytes waiting for the reader are reserved against the connection, peer and system scopes.
            if (!_inputDiscarded && _session.Resources is { } scope && (refusal = scope.TryReserveMemory(payload.Length)) is null)
                _charged += payload.Length;
            if (!_inputDiscarded && refusal is null)
            {
                var writer = _receivePipe.Writer;
                foreach (var segment in payload) writer.Write(segment.Span);
                _buffered += payload.Length;
                flush = writer.FlushAsync();
                return flush;
            }
            discarded = payload.Length;
            _buffered += discarded;
        }
        if (refusal is not null)
        {
            ResetCore(sendReset: true, new StreamResetException($"stream {Id} reset: the {refusal} limit is reached",
                new ResourceLimitExceededException(refusal, $"the {refusal} limit is reached")));
            return default;
        }
        OnConsumed(discarded, wantsMore: true);
        return default;
    }

    /// <summary>
    /// Opens the secure channel's next frame (<paramref name="length"/> payload bytes) straight into the receive pipe;
    /// false (nothing consumed) when the bytes would be dropped or refused, which <see cref="DeliverAsync"/> then handles.
    /// </summary>
    public bool TryDeliverFrame(Security.ISecureFrameSource source, int length, out ValueTask<FlushResult> flush)
    {
        flush = default;
        lock (_lock)
        {
            if (_reset || _remoteFin || _inputDiscarded) return false;
            if (_session.Resources is { } scope)
            {
                if (scope.TryReserveMemory(length) is not null) return false;
                _charged += length;
            }
            _delivering = true;
        }
        // The open (the frame's decryption, ~40 µs for 64 KiB) runs outside _lock, so the reader's AdvanceTo
        // (OnConsumed) does not wait for it. A frame that fails authentication ends the session, which releases the
        // charge (Abort).
        var writer = _receivePipe.Writer;
        bool opened = false, discarded;
        try
        {
            source.OpenFrameInto(writer.GetSpan(Math.Max(length, 1)));
            writer.Advance(length);
            opened = true;
        }
        finally
        {
            bool flushNow;
            lock (_lock)
            {
                if (opened) _buffered += length;
                discarded = opened && _inputDiscarded;
                flushNow = opened && !discarded && _completionAfterDelivery is null;
                // While flushing, _delivering stays set: a reset meanwhile leaves the writer's completion to us.
                if (!flushNow) EndDelivery(writer);
            }
            if (flushNow)
            {
                // Outside _lock: the flush wakes the reader (a thread-pool hand-off), and the reader's AdvanceTo
                // (OnConsumed) spun on _lock for as long as that took.
                try
                {
                    flush = writer.FlushAsync();
                }
                finally
                {
                    lock (_lock) EndDelivery(writer);
                }
            }
        }
        // The reader left meanwhile: its credit goes back as for any discarded input.
        if (discarded) OnConsumed(length, wantsMore: true);
        return true;
    }

    // Under _lock: the read loop's open (and flush) is over; a completion that waited for it happens now.
    private void EndDelivery(PipeWriter writer)
    {
        _delivering = false;
        if (_completionAfterDelivery is not { } error) return;
        _completionAfterDelivery = null;
        writer.Complete(error);
    }

    // Under _lock: fails the receive pipe's writer now, or after the read loop's open in progress.
    private void CompleteReceiveWriter(Exception error)
    {
        if (_delivering) _completionAfterDelivery = error;
        else _receivePipe.Writer.Complete(error);
    }

    public void AddSendCredit(uint delta)
    {
        Interlocked.Add(ref _sendCredit, delta);
        // A stream with nothing waiting for credit is not queued: a queued item would turn inline writers away.
        if (Interlocked.Exchange(ref _waitingForCredit, 0) != 0) ScheduleWrite();
    }

    public void OnRemoteFin()
    {
        bool closed;
        lock (_lock)
        {
            if (_remoteFin || _reset) return;
            _remoteFin = true;
            _receivePipe.Writer.Complete();
            closed = _localFinSent && !_closed;
            _closed |= closed;
            if (closed) StopCloseTimer();
        }
        if (closed) _session.OnStreamClosed(this, reset: false);
    }

    public void OnRemoteReset() => ResetCore(sendReset: false, new StreamResetException("the remote reset the stream"));

    // ---- application side ----

    /// <summary>The application consumed bytes; grants credit back when the remote would otherwise run short.</summary>
    public void OnConsumed(long bytes, bool wantsMore)
    {
        long grant;
        lock (_lock)
        {
            _buffered -= bytes;
            _unreturned += bytes;
            ReleaseCharged(bytes);
            if (_remoteFin || _reset || _unreturned == 0) return;
            bool halfWindow = _unreturned >= _receiveWindow / 2;
            // A reader waiting for more only needs a grant when the remote is running out of credit.
            bool remoteShort = wantsMore && Volatile.Read(ref _receiveCredit) < _receiveWindow / 2;
            if (!halfWindow && !remoteShort) return;
            grant = _unreturned;
            _unreturned = 0;
            if (halfWindow) grant += TuneWindow();
        }
        Interlocked.Add(ref _receiveCredit, grant);
        Interlocked.Add(ref _windowDeltaPending, grant);
        ScheduleWrite();
    }

    /// <summary>Returns reserved bytes to the resource scopes (under <c>_lock</c>).</summary>
    private void ReleaseCharged(long bytes)
    {
        bytes = Math.Min(bytes, _charged);
        if (bytes <= 0) return;
        _charged -= bytes;
        _session.Resources?.ReleaseMemory(bytes);
    }

    /// <summary>Doubles the window (up to the maximum) when half of it was consumed within 4 round trips.</summary>
    private long TuneWindow()
    {
        var time = _session.Time;
        long now = time.GetTimestamp();
        var rtt = _session.RoundTripTime;
        long growth = 0;
        if (rtt > TimeSpan.Zero && _receiveWindow < _session.Options.MaxStreamWindow &&
            time.GetElapsedTime(_epochStart, now) < rtt * 4)
        {
            long window = Math.Min(_receiveWindow * 2, _session.Options.MaxStreamWindow);
            growth = window - _receiveWindow;
            _receiveWindow = window;
        }
        _epochStart = now;
        return growth;
    }

    /// <summary>The application stopped reading: later data is dropped and its credit returned at once.</summary>
    public void OnInputCompleted()
    {
        long grant;
        lock (_lock)
        {
            if (_inputDiscarded) return;
            _inputDiscarded = true;
            ReleaseCharged(_charged);
            grant = _remoteFin || _reset ? 0 : _buffered + _unreturned;
            _buffered = 0;
            _unreturned = 0;
        }
        if (grant <= 0) return;
        Interlocked.Add(ref _receiveCredit, grant);
        Interlocked.Add(ref _windowDeltaPending, grant);
        ScheduleWrite();
    }

    private void ResetCore(bool sendReset, Exception error)
    {
        lock (_lock)
        {
            if (_reset || _closed) return;
            _reset = true;
            _closed = true;
            StopCloseTimer();
            ReleaseCharged(_charged);
            CompleteReceiveWriter(error);
            if (sendReset) _localResetPending = 1;
        }
        _session.OnStreamClosed(this, reset: true);
        ScheduleWrite();
    }

    /// <summary>The session ended: fail both pipes. Runs after the write loop has stopped.</summary>
    public void Abort(Exception error)
    {
        lock (_lock)
        {
            if (!_closed)
            {
                _reset = true;
                _closed = true;
                CompleteReceiveWriter(error);
            }
            ReleaseCharged(_charged);
        }
        if (!_sendDone)
        {
            _sendDone = true;
            _sendPipe.Reader.Complete(error);
        }
    }
}
