using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Network;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Net.Transports;

/// <summary>
/// A TCP socket bridged to two pipes by two owned pump tasks. The receive pump reads straight into pipe memory, so
/// no buffer is allocated per read; completing <see cref="Output"/> sends FIN once everything written was sent.
/// </summary>
internal sealed class TcpConnection : ITransportConnection, ITransportStatistics
{
    // Large segments keep the number of socket calls low on bulk transfers.
    private const int SegmentSize = 64 * 1024;
    // Send segments hold three full Noise frames (65,537 bytes each): with 64 KiB segments every frame took a pooled
    // 128 KiB array of its own, so a bulk batch needed more than the 8 buffers a gathered send passes without allocating.
    private const int SendSegmentSize = 256 * 1024;
    // Receive segments hold several 64 KiB Noise frames: a frame split across two segments costs the decrypting side a
    // copy, and with 64 KiB segments nearly every frame was split. An idle connection holds none (zero-byte receive).
    private const int ReceiveSegmentSize = 256 * 1024;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan CloseLinger = TimeSpan.FromSeconds(2);

    private readonly Socket _socket;
    private readonly Pipe _receivePipe;
    private readonly Pipe _sendPipe;
    private readonly CancellationTokenSource _abort = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Task _receiveLoop;
    private readonly Task _sendLoop;
    private long _bytesReceived;
    private long _bytesSent;
    private int _disposed;

    public TcpConnection(Socket socket, int maxBufferedBytes, TimeProvider timeProvider, ILogger logger)
    {
        _socket = socket;
        _timeProvider = timeProvider;
        _logger = logger;
        var options = new PipeOptions(pauseWriterThreshold: maxBufferedBytes, resumeWriterThreshold: maxBufferedBytes / 2,
            minimumSegmentSize: SendSegmentSize, useSynchronizationContext: false);
        _receivePipe = new Pipe(new PipeOptions(pauseWriterThreshold: Math.Max(maxBufferedBytes, 2 * ReceiveSegmentSize),
            resumeWriterThreshold: Math.Max(maxBufferedBytes, 2 * ReceiveSegmentSize) / 2, minimumSegmentSize: ReceiveSegmentSize,
            useSynchronizationContext: false));
        _sendPipe = new Pipe(options);
        LocalAddress = Multiaddr.FromTcpEndPoint((IPEndPoint)socket.LocalEndPoint!);
        RemoteAddress = Multiaddr.FromTcpEndPoint((IPEndPoint)socket.RemoteEndPoint!);
        _receiveLoop = ReceiveLoopAsync();
        _sendLoop = SendLoopAsync();
    }

    public PipeReader Input => _receivePipe.Reader;
    public PipeWriter Output => _sendPipe.Writer;
    public Multiaddr LocalAddress { get; }
    public Multiaddr RemoteAddress { get; }
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public void Abort()
    {
        if (_abort.IsCancellationRequested) return;
        try
        {
            // Linger 0 turns the close into an RST: buffered data is dropped, as Abort promises.
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SocketException)
        {
        }
        _abort.Cancel();
        _socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _sendPipe.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _sendLoop.WaitAsync(DrainTimeout, _timeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            TransportLog.DrainTimedOut(_logger, RemoteAddress);
        }
        // Closing a socket with unread input sends RST, which can destroy our last bytes (a GoAway) at the peer before
        // it reads them. Nobody reads any more, so discard input and give the peer a moment to close its side first.
        await _receivePipe.Reader.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _receiveLoop.WaitAsync(CloseLinger, _timeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The peer keeps its side open: close anyway.
        }
        _abort.Cancel();
        _socket.Dispose();
        await Task.WhenAll(_receiveLoop, _sendLoop).ConfigureAwait(false);
        _abort.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        Exception? error = null;
        var writer = _receivePipe.Writer;
        try
        {
            var drained = true;
            while (true)
            {
                // Wait for data without holding a buffer when the last read emptied the socket (an idle connection).
                if (drained) await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _abort.Token).ConfigureAwait(false);
                var memory = writer.GetMemory(SegmentSize);
                var read = await _socket.ReceiveAsync(memory, SocketFlags.None, _abort.Token).ConfigureAwait(false);
                if (read == 0) break;
                drained = read < memory.Length;
                Interlocked.Add(ref _bytesReceived, read);
                writer.Advance(read);
                var flush = await writer.FlushAsync(_abort.Token).ConfigureAwait(false);
                if (flush.IsCanceled) break;
                if (flush.IsCompleted)
                {
                    await DiscardUntilClosedAsync().ConfigureAwait(false);
                    break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            error = new IOException($"connection to {RemoteAddress} closed: {e.Message}", e);
            TransportLog.ReceiveEnded(_logger, RemoteAddress, e.Message);
        }
        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    /// <summary>Reads and drops input until the peer closes or we abort, so the final close is a FIN, not an RST.</summary>
    private async Task DiscardUntilClosedAsync()
    {
        var scratch = System.Buffers.ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (await _socket.ReceiveAsync(scratch.AsMemory(), SocketFlags.None, _abort.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    // The segments of the send pipe as arrays (pipe memory is pooled arrays); false when one is not.
    private static bool TryGather(in System.Buffers.ReadOnlySequence<byte> buffer, List<ArraySegment<byte>> gather)
    {
        foreach (var segment in buffer)
        {
            if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray(segment, out var array))
            {
                gather.Clear();
                return false;
            }
            gather.Add(array);
        }
        return true;
    }

    private async Task SendLoopAsync()
    {
        await Task.Yield();
        Exception? error = null;
        var reader = _sendPipe.Reader;
        var gather = new List<ArraySegment<byte>>();
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_abort.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                // Several segments (a batch of Noise frames) go out in one gathered send.
                if (!buffer.IsSingleSegment && TryGather(buffer, gather))
                {
                    var gathered = await _socket.SendAsync(gather, SocketFlags.None).ConfigureAwait(false);
                    gather.Clear();
                    Interlocked.Add(ref _bytesSent, gathered);
                    buffer = buffer.Slice(gathered);
                }
                foreach (var segment in buffer)
                {
                    var remaining = segment;
                    while (!remaining.IsEmpty)
                    {
                        var sent = await _socket.SendAsync(remaining, SocketFlags.None, _abort.Token).ConfigureAwait(false);
                        Interlocked.Add(ref _bytesSent, sent);
                        remaining = remaining[sent..];
                    }
                }
                reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted) break;
            }
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
            error = new IOException($"connection to {RemoteAddress} closed: {e.Message}", e);
            TransportLog.SendEnded(_logger, RemoteAddress, e.Message);
        }
        await reader.CompleteAsync(error).ConfigureAwait(false);
    }
}
