using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Network;

namespace KontinuumP2P.Net.Negotiation;

/// <summary>
/// multistream-select 1.0 over any duplex pipe: the raw connection (to pick <c>/noise</c>, then maybe the muxer) and
/// every muxed stream. Bytes that follow the negotiation stay in the pipe's reader for the selected protocol.
/// Callers bound the whole exchange with a timeout through the cancellation token (<see cref="DefaultTimeout"/>).
/// </summary>
public static class MultistreamSelect
{
    /// <summary>The protocol id of multistream-select itself.</summary>
    public const string ProtocolId = "/multistream/1.0.0";

    /// <summary>The refusal message.</summary>
    public const string NotAvailable = "na";

    /// <summary>The list request.</summary>
    public const string List = "ls";

    /// <summary>How long a negotiation may take (js uses the same for upgrades and streams).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Most messages a responder reads in one negotiation, so a peer cannot keep it busy forever.</summary>
    public const int MaxRounds = 64;

    /// <summary>
    /// Dialer side: sends the header and the first proposal in one write (never waiting for the remote to speak
    /// first), then proposes the others in order after each <c>na</c>.
    /// </summary>
    /// <returns>The protocol the remote echoed.</returns>
    /// <exception cref="ProtocolNotSupportedException">The remote refused every proposal.</exception>
    /// <exception cref="InvalidDataException">The remote broke the protocol.</exception>
    public static async ValueTask<string> SelectAsync(IDuplexPipe pipe, IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        if (protocols is null || protocols.Count == 0) throw new ArgumentException("at least one protocol must be proposed", nameof(protocols));
        MultistreamMessage.Write(pipe.Output, ProtocolId);
        MultistreamMessage.Write(pipe.Output, protocols[0]);
        await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);

        var header = await ReadTextAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
        if (header != ProtocolId) throw new InvalidDataException($"remote does not speak {ProtocolId} (sent '{Shorten(header)}')");
        for (var i = 0; ; i++)
        {
            var reply = await ReadTextAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
            if (reply == protocols[i]) return protocols[i];
            if (reply != NotAvailable) throw new InvalidDataException($"unexpected multistream reply '{Shorten(reply)}' to '{protocols[i]}'");
            if (i + 1 == protocols.Count)
                throw new ProtocolNotSupportedException($"remote supports none of: {string.Join(", ", protocols)}");
            MultistreamMessage.Write(pipe.Output, protocols[i + 1]);
            await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Listener side: waits for the remote's header, echoes it, answers <c>ls</c> and refuses unknown ids with
    /// <c>na</c> until the remote proposes a supported protocol, which is echoed and returned.
    /// </summary>
    /// <param name="pipe">The stream or connection.</param>
    /// <param name="supported">The ids served now (looked up per proposal, and listed for <c>ls</c>).</param>
    /// <param name="cancellationToken">Bounds the negotiation.</param>
    /// <exception cref="InvalidDataException">The remote broke the protocol, gave up, or took more than <see cref="MaxRounds"/> messages.</exception>
    public static ValueTask<string> HandleAsync(IDuplexPipe pipe, IReadOnlyCollection<string> supported, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(supported);
        return HandleAsync(pipe, supported.Contains, () => supported, cancellationToken);
    }

    /// <summary>Listener side with a lookup instead of a collection (for registries that change while serving).</summary>
    /// <param name="pipe">The stream or connection.</param>
    /// <param name="isSupported">Whether a proposed id is served.</param>
    /// <param name="listSupported">The ids to list in answer to <c>ls</c>.</param>
    /// <param name="cancellationToken">Bounds the negotiation.</param>
    /// <exception cref="InvalidDataException">The remote broke the protocol, gave up, or took more than <see cref="MaxRounds"/> messages.</exception>
    public static async ValueTask<string> HandleAsync(IDuplexPipe pipe, Func<string, bool> isSupported,
        Func<IEnumerable<string>> listSupported, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        ArgumentNullException.ThrowIfNull(isSupported);
        ArgumentNullException.ThrowIfNull(listSupported);
        for (var round = 0; round < MaxRounds; round++)
        {
            var message = await ReadTextAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
            if (message == ProtocolId)
            {
                MultistreamMessage.Write(pipe.Output, ProtocolId);
            }
            else if (message == List)
            {
                WriteList(pipe.Output, listSupported());
            }
            else if (message != NotAvailable && isSupported(message))
            {
                MultistreamMessage.Write(pipe.Output, message);
                await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
                return message;
            }
            else
            {
                MultistreamMessage.Write(pipe.Output, NotAvailable);
            }
            await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
        }
        throw new InvalidDataException($"multistream negotiation did not finish within {MaxRounds} messages");
    }

    /// <summary>
    /// Asks the remote which protocols it serves (<c>ls</c>). Optional in the spec: peers that do not support it answer
    /// <c>na</c>, which yields an empty list.
    /// </summary>
    public static async ValueTask<IReadOnlyList<string>> ListAsync(IDuplexPipe pipe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        MultistreamMessage.Write(pipe.Output, ProtocolId);
        MultistreamMessage.Write(pipe.Output, List);
        await FlushAsync(pipe.Output, cancellationToken).ConfigureAwait(false);
        var header = await ReadTextAsync(pipe.Input, cancellationToken).ConfigureAwait(false);
        if (header != ProtocolId) throw new InvalidDataException($"remote does not speak {ProtocolId}");
        while (true)
        {
            var result = await pipe.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (MultistreamMessage.TryParse(ref buffer, out var body))
            {
                var list = ParseList(body);
                pipe.Input.AdvanceTo(buffer.Start);
                return list;
            }
            if (result.IsCompleted) throw new InvalidDataException("stream ended during multistream negotiation");
            pipe.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static IReadOnlyList<string> ParseList(ReadOnlySequence<byte> body)
    {
        // "na\n" means the remote does not implement ls; otherwise the body is a sequence of messages and a final '\n'.
        var inner = body.Slice(0, body.Length - 1);
        var names = new List<string>();
        while (!inner.IsEmpty)
        {
            if (!MultistreamMessage.TryParseText(ref inner, out var name))
            {
                if (names.Count == 0) return names;
                throw new InvalidDataException("truncated entry in multistream ls reply");
            }
            names.Add(name);
        }
        return names;
    }

    private static void WriteList(PipeWriter output, IEnumerable<string> supported)
    {
        var body = new ArrayBufferWriter<byte>();
        var entry = new ArrayBufferWriter<byte>();
        foreach (var protocol in supported)
        {
            entry.ResetWrittenCount();
            MultistreamMessage.Write(entry, protocol);
            // The reply is itself one message: list what fits under the cap rather than fail.
            if (body.WrittenCount + entry.WrittenCount + 1 > MultistreamMessage.MaxLength) break;
            body.Write(entry.WrittenSpan);
        }
        body.Write("\n"u8);
        Varint.Write(output, (ulong)body.WrittenCount);
        output.Write(body.WrittenSpan);
    }

    private static async ValueTask<string> ReadTextAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool parsed;
            string text;
            try
            {
                parsed = MultistreamMessage.TryParseText(ref buffer, out text);
            }
            catch
            {
                input.AdvanceTo(result.Buffer.Start);
                throw;
            }
            if (parsed)
            {
                input.AdvanceTo(buffer.Start);
                return text;
            }
            if (result.IsCanceled) throw new OperationCanceledException(cancellationToken);
            if (result.IsCompleted)
            {
                input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw new InvalidDataException("stream ended during multistream negotiation");
            }
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static async ValueTask FlushAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        var flush = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCompleted) throw new IOException("the remote closed the stream during multistream negotiation");
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
