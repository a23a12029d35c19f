using System.Buffers;
using System.IO.Pipelines;

namespace KontinuumP2P.Net.Protocols;

/// <summary>Copies everything a stream receives back to it, without allocating per read.</summary>
internal static class StreamEcho
{
    /// <summary>Echoes until the remote closes its side, then closes ours.</summary>
    public static async ValueTask RunAsync(IDuplexPipe stream, CancellationToken cancellationToken)
    {
        var input = stream.Input;
        var output = stream.Output;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            foreach (var segment in buffer) output.Write(segment.Span);
            input.AdvanceTo(buffer.End);
            if (!buffer.IsEmpty)
            {
                var flush = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (flush.IsCompleted) break;
            }
            if (result.IsCompleted || result.IsCanceled) break;
        }
        await output.CompleteAsync().ConfigureAwait(false);
    }
}
