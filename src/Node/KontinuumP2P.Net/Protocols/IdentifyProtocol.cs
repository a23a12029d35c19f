using System.IO.Pipelines;
using KontinuumP2P.Core.Codecs;

namespace KontinuumP2P.Net.Protocols;

/// <summary>The identify protocols (<c>/ipfs/id/1.0.0</c>, <c>/ipfs/id/push/1.0.0</c>) on the wire.</summary>
public static class IdentifyProtocol
{
    /// <summary>Identify: the acceptor writes one message then closes its side.</summary>
    public const string Id = "/ipfs/id/1.0.0";

    /// <summary>Identify push: the opener writes one (partial) message then closes its side.</summary>
    public const string PushId = "/ipfs/id/push/1.0.0";

    /// <summary>The protocol version every libp2p implementation sends.</summary>
    public const string ProtocolVersion = "ipfs/0.1.0";

    /// <summary>How long reading an identify answer may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Writes one length-prefixed message and closes the write side (FIN), as the remote waits for it.</summary>
    public static async ValueTask WriteAsync(PipeWriter output, IdentifyMessage message, CancellationToken cancellationToken)
    {
        await LengthPrefixed.WriteAsync(output, message.Encode(), cancellationToken).ConfigureAwait(false);
        await output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Reads messages until the remote closes its side, merging them in order (at most
    /// <see cref="IdentifyMessage.MaxMessagesPerStream"/>, each at most <see cref="IdentifyMessage.MaxLength"/> bytes).
    /// </summary>
    /// <exception cref="InvalidDataException">No message, too many, or a malformed one.</exception>
    public static async ValueTask<IdentifyMessage> ReadAsync(PipeReader input, CancellationToken cancellationToken)
    {
        IdentifyMessage? merged = null;
        for (var i = 0; i < IdentifyMessage.MaxMessagesPerStream; i++)
        {
            var bytes = await LengthPrefixed.ReadAsync(input, IdentifyMessage.MaxLength, cancellationToken).ConfigureAwait(false);
            if (bytes is null) return merged ?? throw new InvalidDataException("identify stream closed without a message");
            var message = IdentifyMessage.Decode(bytes);
            merged = merged is null ? message : merged.MergeWith(message);
        }
        // Exactly the maximum, then the end of the stream, is allowed; only a further message is refused.
        if (await LengthPrefixed.ReadAsync(input, IdentifyMessage.MaxLength, cancellationToken).ConfigureAwait(false) is null) return merged!;
        throw new InvalidDataException($"more than {IdentifyMessage.MaxMessagesPerStream} identify messages on one stream");
    }
}
