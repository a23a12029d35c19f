using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Muxing;

/// <summary>The write loop's side of a stream: the frames it sends (RST, SYN/ACK, window updates, Data, FIN).</summary>
internal sealed partial class YamuxStream
{
    /// <summary>
    /// Writes what this stream has to say: RST, SYN/ACK, window update, Data up to the remote's credit and
    /// <paramref name="quota"/> bytes, FIN. Returns the bytes written; <paramref name="more"/> asks for another turn.
    /// </summary>
    public long WriteFrames(PipeWriter output, int maxFrame, long quota, out bool more)
    {
        more = false;
        Interlocked.Exchange(ref _scheduled, 0);
        if (_reset) return WriteReset(output);

        var flags = YamuxFlags.None;
        if (!_synSent)
        {
            flags |= YamuxFlags.Syn;
            _synSent = true;
        }
        if (Interlocked.Exchange(ref _ackPending, 0) != 0) flags |= YamuxFlags.Ack;
        long written = 0;
        long delta = Interlocked.Exchange(ref _windowDeltaPending, 0);
        if (delta > 0)
        {
            YamuxHeader.Create(YamuxFrameType.WindowUpdate, flags, Id, (uint)delta).WriteTo(output);
            written += YamuxHeader.Size;
            flags = YamuxFlags.None;
        }

        bool finSent = false;
        // Set before the credit is read, so credit added after that read finds it and schedules us again.
        Interlocked.Exchange(ref _waitingForCredit, 1);
        bool waitingForCredit = false;
        if (!_sendDone && _sendPipe.Reader.TryRead(out var result))
        {
            var buffer = result.Buffer;
            long credit = Volatile.Read(ref _sendCredit);
            long sent = 0;
            if (output is Security.ISealingPipeWriter) maxFrame = Security.ISealingPipeWriter.AlignFrame(maxFrame);
            while (!buffer.IsEmpty && credit > sent && written < quota)
            {
                int length = (int)Math.Min(Math.Min(buffer.Length, credit - sent), maxFrame);
                YamuxHeader.Create(YamuxFrameType.Data, flags, Id, (uint)length).WriteTo(output);
                // A Noise writer encrypts the payload straight out of the stream's pipe (no copy into its buffer).
                if (output is Security.ISealingPipeWriter sealing)
                    foreach (var segment in buffer.Slice(0, length)) sealing.WriteSealed(segment.Span);
                else
                    foreach (var segment in buffer.Slice(0, length)) output.Write(segment.Span);
                buffer = buffer.Slice(length);
                sent += length;
                written += YamuxHeader.Size + length;
                flags = YamuxFlags.None;
            }
            if (sent > 0) Interlocked.Add(ref _sendCredit, -sent);
            if (buffer.IsEmpty && result.IsCompleted)
            {
                // FIN goes in its own WindowUpdate(FIN, 0), as js sends it: js 8 applies a FIN carried by a Data
                // frame before that frame's payload and drops the payload when its own side is already closed.
                YamuxHeader.Create(YamuxFrameType.WindowUpdate, flags | YamuxFlags.Fin, Id, 0).WriteTo(output);
                written += YamuxHeader.Size;
                flags = YamuxFlags.None;
                finSent = true;
            }
            _sendPipe.Reader.AdvanceTo(buffer.Start);
            if (finSent)
            {
                _sendDone = true;
                _sendPipe.Reader.Complete();
            }
            else
            {
                more = !buffer.IsEmpty && credit > sent;
                waitingForCredit = !buffer.IsEmpty && credit <= sent;
            }
        }
        if (!waitingForCredit) Volatile.Write(ref _waitingForCredit, 0);
        if (flags != YamuxFlags.None)
        {
            YamuxHeader.Create(YamuxFrameType.WindowUpdate, flags, Id, 0).WriteTo(output);
            written += YamuxHeader.Size;
        }
        if (finSent) OnLocalFinSent();
        return written;
    }

    private long WriteReset(PipeWriter output)
    {
        long written = 0;
        // A stream the remote never heard of needs no RST.
        if (Interlocked.Exchange(ref _localResetPending, 0) != 0 && _synSent)
        {
            YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, Id, 0).WriteTo(output);
            written = YamuxHeader.Size;
        }
        if (!_sendDone)
        {
            _sendDone = true;
            _sendPipe.Reader.Complete(new StreamResetException());
        }
        return written;
    }

    private void OnLocalFinSent()
    {
        bool closed;
        lock (_lock)
        {
            _localFinSent = true;
            closed = _remoteFin && !_closed;
            _closed |= closed;
            if (closed) StopCloseTimer();
        }
        if (closed) _session.OnStreamClosed(this, reset: false);
    }
}
