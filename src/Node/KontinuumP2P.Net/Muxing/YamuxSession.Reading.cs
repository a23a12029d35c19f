using System.Buffers;

namespace KontinuumP2P.Net.Muxing;

internal sealed partial class YamuxSession
{
    // Read-loop state: a Data frame's payload may span several reads; it is streamed into the stream as it arrives.
    private YamuxStream? _payloadTarget;
    private long _payloadRemaining;
    private YamuxFlags _payloadFlags;
    private uint _highestInboundId;
    private bool _stopReading;

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        Exception? failure = null;
        YamuxProtocolException? violation = null;
        try
        {
            var frames = _input as Security.ISecureFrameSource;
            while (!_stopReading)
            {
                if (frames is not null && _payloadRemaining > 0) await DeliverPayloadFramesAsync(frames, cancellationToken).ConfigureAwait(false);
                if (_stopReading) break;
                var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (!_stopReading)
                    {
                        if (_payloadRemaining > 0)
                        {
                            if (buffer.IsEmpty) break;
                            long take = Math.Min(_payloadRemaining, buffer.Length);
                            if (_payloadTarget is { } target)
                                await target.DeliverAsync(buffer.Slice(0, take)).ConfigureAwait(false);
                            buffer = buffer.Slice(take);
                            _payloadRemaining -= take;
                            if (_payloadRemaining == 0) FinishPayload();
                            continue;
                        }
                        if (!YamuxHeader.TryRead(ref buffer, out var header)) break;
                        await HandleFrameAsync(header, cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _input.AdvanceTo(buffer.Start, buffer.End);
                }
                if (result.IsCompleted || result.IsCanceled)
                {
                    failure ??= new IOException("the connection was closed by the remote");
                    break;
                }
            }
        }
        catch (YamuxProtocolException ex)
        {
            violation = ex;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Session shutting down.
        }
        catch (Exception ex)
        {
            YamuxLog.ReadFailed(_logger, ex);
            failure = ex;
        }

        if (violation is not null)
        {
            YamuxLog.ProtocolError(_logger, violation.Reason, violation.Message);
            _metrics?.FrameRejected(violation.Reason);
            BeginClose(YamuxGoAwayCode.ProtocolError, violation);
        }
        else if (!_stopReading || failure is not null)
        {
            Shutdown(failure);
        }
    }

    /// <summary>
    /// Inside a Data payload, waits for whole secure frames instead of opening the next one into the secure channel's
    /// plaintext buffer (and copying it from there into the stream), which is what happened whenever the read loop had
    /// caught up with the socket. Leaves when the payload is over, or when a frame that has arrived is not one the
    /// direct path takes (it spans the payload's end, or plaintext is buffered): the ordinary read handles those.
    /// </summary>
    private async ValueTask DeliverPayloadFramesAsync(Security.ISecureFrameSource frames, CancellationToken cancellationToken)
    {
        bool frameArrived = false;
        while (_payloadRemaining > 0 && !_stopReading)
        {
            long before = _payloadRemaining;
            await DeliverWholeFramesAsync(frames).ConfigureAwait(false);
            if (_payloadRemaining == 0 || _stopReading) break;
            if (_payloadRemaining == before && frameArrived) break;
            frameArrived = await frames.WaitForFrameAsync(cancellationToken).ConfigureAwait(false);
            if (!frameArrived) break;
        }
    }

    /// <summary>
    /// Secure frames that lie wholly inside the current Data payload are opened straight into the stream's receive pipe
    /// (no copy through the secure channel's plaintext buffer). Runs only when no plaintext is buffered.
    /// </summary>
    private async ValueTask DeliverWholeFramesAsync(Security.ISecureFrameSource frames)
    {
        while (_payloadRemaining > 0 && !_stopReading && frames.TryPeekFrame(_payloadRemaining, out var length))
        {
            if (_payloadTarget is { } target && target.TryDeliverFrame(frames, length, out var flush))
            {
                await flush.ConfigureAwait(false);
            }
            else
            {
                // Dropped, or the stream refuses it: open into scratch and let the ordinary path decide.
                var scratch = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                try
                {
                    frames.OpenFrameInto(scratch);
                    if (_payloadTarget is { } refused)
                        await refused.DeliverAsync(new ReadOnlySequence<byte>(scratch, 0, length)).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                }
            }
            _payloadRemaining -= length;
            if (_payloadRemaining == 0) FinishPayload();
        }
    }

    private ValueTask HandleFrameAsync(YamuxHeader header, CancellationToken cancellationToken)
    {
        if (header.Version != YamuxHeader.ProtocolVersion)
            throw new YamuxProtocolException("bad-version", $"version {header.Version}");
        switch (header.Type)
        {
            case YamuxFrameType.Data:
            case YamuxFrameType.WindowUpdate:
                return HandleStreamFrameAsync(header, cancellationToken);
            case YamuxFrameType.Ping:
                return HandlePingAsync(header, cancellationToken);
            case YamuxFrameType.GoAway:
                HandleGoAway(header);
                return ValueTask.CompletedTask;
            default:
                throw new YamuxProtocolException("unknown-type", $"frame type {(byte)header.Type}");
        }
    }

    private async ValueTask HandleStreamFrameAsync(YamuxHeader header, CancellationToken cancellationToken)
    {
        uint id = header.StreamId;
        if (id == 0) throw new YamuxProtocolException("stream-zero", $"{header.Type} on stream 0");
        var flags = header.Flags;
        if ((flags & YamuxFlags.Syn) != 0 && (id % 2 == 1) == IsClient)
            throw new YamuxProtocolException("wrong-parity", $"SYN for stream {id} with our own parity");

        var stream = FindStream(id);
        if (stream is null && (flags & YamuxFlags.Syn) != 0)
            stream = await AcceptSynAsync(id, cancellationToken).ConfigureAwait(false);

        if (header.Type == YamuxFrameType.WindowUpdate)
        {
            if (stream is null) return;
            if (header.Length > 0) stream.AddSendCredit(header.Length);
            if ((flags & YamuxFlags.Fin) != 0) stream.OnRemoteFin();
            if ((flags & YamuxFlags.Rst) != 0) stream.OnRemoteReset();
            return;
        }

        // Data: frames for unknown or closed streams are skipped, as js does.
        _payloadTarget = null;
        _payloadRemaining = header.Length;
        _payloadFlags = YamuxFlags.None;
        if (stream is not null)
        {
            if (!stream.TryTakeReceiveCredit(header.Length))
                throw new YamuxProtocolException("window-exceeded",
                    $"{header.Length} bytes on stream {id} with {stream.ReceiveCredit} bytes of credit");
            if ((flags & YamuxFlags.Rst) != 0)
            {
                stream.OnRemoteReset();
            }
            else
            {
                _payloadTarget = stream;
                _payloadFlags = flags;
            }
        }
        if (_payloadRemaining == 0) FinishPayload();
    }

    /// <summary>A Data frame's payload is complete: its FIN applies now, after the bytes it follows.</summary>
    private void FinishPayload()
    {
        if (_payloadTarget is { } target && (_payloadFlags & YamuxFlags.Fin) != 0) target.OnRemoteFin();
        _payloadTarget = null;
        _payloadFlags = YamuxFlags.None;
    }

    private async ValueTask<YamuxStream?> AcceptSynAsync(uint id, CancellationToken cancellationToken)
    {
        string? refusal = null;
        YamuxStream? stream = null;
        if (id <= _highestInboundId) refusal = "stale-id";
        else if (Volatile.Read(ref _closing) != 0) refusal = "closing";
        else
        {
            _highestInboundId = id;
            lock (_streamsLock)
            {
                if (_inboundCount >= Options.MaxInboundStreams)
                {
                    refusal = "stream-limit";
                }
                else if (Resources?.TryAddStream() is { } full)
                {
                    refusal = full;
                }
                else
                {
                    stream = new YamuxStream(this, id, outbound: false, Options, _pool);
                    _streams.Add(id, stream);
                    _inboundCount++;
                }
            }
            if (stream is not null && !_acceptQueue.Writer.TryWrite(stream))
            {
                refusal = "accept-backlog";
                lock (_streamsLock)
                {
                    _streams.Remove(id);
                    _inboundCount--;
                }
                Resources?.RemoveStream();
                stream = null;
            }
        }

        if (refusal is null)
        {
            _metrics?.StreamOpened(outbound: false);
            return stream;
        }
        YamuxLog.StreamRefused(_logger, id, refusal);
        _metrics?.FrameRejected(refusal);
        await SendControlAsync(YamuxHeader.Create(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, id, 0), cancellationToken)
            .ConfigureAwait(false);
        return null;
    }

    private ValueTask HandlePingAsync(YamuxHeader header, CancellationToken cancellationToken)
    {
        if (header.StreamId != 0) throw new YamuxProtocolException("ping-stream-id", $"ping on stream {header.StreamId}");
        if (header.Flags == YamuxFlags.Syn)
            return SendControlAsync(YamuxHeader.Create(YamuxFrameType.Ping, YamuxFlags.Ack, 0, header.Length), cancellationToken);
        if (header.Flags != YamuxFlags.Ack) throw new YamuxProtocolException("ping-flags", $"ping flags {header.Flags}");
        if (!TryCompletePing(header.Length))
            throw new YamuxProtocolException("unexpected-ping-ack", $"ping ACK {header.Length} that we did not ask for");
        return ValueTask.CompletedTask;
    }

    private void HandleGoAway(YamuxHeader header)
    {
        if (header.StreamId != 0) throw new YamuxProtocolException("goaway-stream-id", $"GoAway on stream {header.StreamId}");
        YamuxLog.RemoteGoAway(_logger, header.Length);
        _remoteGoAway = true;
        if (header.Length == (uint)YamuxGoAwayCode.Normal) return;
        // Any error code ends the session and resets every stream.
        _stopReading = true;
        Shutdown(new IOException($"the remote sent GoAway with code {header.Length}"));
    }

    /// <summary>Queues a control frame, waiting (so reading stops) while too many are queued already.</summary>
    private async ValueTask SendControlAsync(YamuxHeader header, CancellationToken cancellationToken)
    {
        await _controlSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!Enqueue(OutboundItem.Control(header))) _controlSlots.Release();
    }
}
