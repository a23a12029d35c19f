using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Protocols;

/// <summary>Copies everything a stream receives back to it, without allocating per read.</summary>
internal static class StreamEcho
{
    /// <summary>Longest wait for the remote's next bytes before the stream is reset.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Longest wait for one echo to be taken by the remote: a peer that sends but stops reading would otherwise pin the
    /// stream and its buffered bytes forever.
    /// </summary>
    public static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Echoes until the remote closes its side, then closes ours; resets the stream when a deadline passes.</summary>
    public static async ValueTask RunAsync(IDuplexPipe stream, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        var input = stream.Input;
        var output = stream.Output;
        using var deadline = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time ?? TimeProvider.System);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            while (true)
            {
                deadline.CancelAfter(IdleTimeout);
                var result = await input.ReadAsync(linked.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer) output.Write(segment.Span);
                input.AdvanceTo(buffer.End);
                if (!buffer.IsEmpty)
                {
                    deadline.CancelAfter(WriteTimeout);
                    var flush = await output.FlushAsync(linked.Token).ConfigureAwait(false);
                    if (flush.IsCompleted) break;
                }
                if (result.IsCompleted || result.IsCanceled) break;
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            if (stream is IP2PStream p2p) p2p.Reset();
            return;
        }
        await output.CompleteAsync().ConfigureAwait(false);
    }
}
