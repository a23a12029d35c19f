using System.Buffers;
using System.IO.Pipelines;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Wire;
using KontinuumP2P.Net.Muxing;
using KontinuumP2P.Net.Negotiation;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Net.Security;
using KontinuumP2P.Net.Security.Noise;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Fuzzing;

/// <summary>
/// One target per decoder of network input. A target swallows only the documented refusal of malformed input
/// (<see cref="InvalidDataException"/>, <see cref="HandshakeException"/>); any other exception, or a hang past
/// <see cref="HangBound"/>, is a finding.
/// </summary>
public static partial class FuzzTargets
{
    /// <summary>Longest a single input may take (a Yamux session must end once its input ends).</summary>
    public static readonly TimeSpan HangBound = TimeSpan.FromSeconds(5);

    /// <summary>The targets by name (the corpus folder of each has the same name).</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["multistream"] = Multistream,
        ["noise-payload"] = NoisePayloadTarget,
        ["yamux"] = Yamux,
        ["identify"] = Identify,
        ["kad"] = Kad,
        ["mailbox-request"] = MailboxRequest,
        ["certificate"] = CertificateTarget,
        ["crl"] = CrlTarget,
        ["node-record"] = NodeRecordTarget,
        ["slot-record"] = SlotRecordTarget,
        ["mdns"] = Mdns,
        ["toml"] = Toml,
    };

    /// <summary>Multistream-select messages, one after another.</summary>
    public static void Multistream(byte[] data)
    {
        var buffer = new ReadOnlySequence<byte>(data);
        try
        {
            while (MultistreamMessage.TryParseText(ref buffer, out _))
            {
            }
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary>The Noise handshake payload (identity key, signature, muxer extensions) against a fixed static key.</summary>
    public static void NoisePayloadTarget(byte[] data)
    {
        try
        {
            NoisePayload.Verify(data, new byte[32]);
        }
        catch (HandshakeException)
        {
        }
    }

    /// <summary>A whole Yamux session (server side) reading the bytes as frames, then the end of the connection.</summary>
    public static void Yamux(byte[] data)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var session = new YamuxSession(listener, isClient: false, new YamuxOptions { PingOnStart = false });
        var drain = Task.Run(async () =>
        {
            // Read whatever the session answers so it never blocks on a full pipe.
            while (true)
            {
                var result = await dialer.Input.ReadAsync();
                dialer.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled) return;
            }
        });
        var accept = Task.Run(async () =>
        {
            while (await session.AcceptStreamAsync(CancellationToken.None) is { } stream)
            {
                stream.Input.Complete();
                await stream.DisposeAsync();
            }
        });
        dialer.Output.Write(data);
        dialer.Output.FlushAsync().AsTask().GetAwaiter().GetResult();
        dialer.Output.Complete();
        if (!session.Completion.Wait(HangBound)) throw new TimeoutException("the yamux session did not end after its input ended");
        session.DisposeAsync().AsTask().GetAwaiter().GetResult();
        dialer.Input.CancelPendingRead();
        if (!Task.WhenAll(drain, accept).Wait(HangBound)) throw new TimeoutException("yamux accept or drain did not end");
    }

    /// <summary>An identify message.</summary>
    public static void Identify(byte[] data)
    {
        try
        {
            IdentifyMessage.Decode(data);
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary>A kad message.</summary>
    public static void Kad(byte[] data)
    {
        try
        {
            KadMessageCodec.Decode(data);
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary>Length-prefixed mailbox request frames as the server reads them, until the input ends.</summary>
    public static void MailboxRequest(byte[] data)
    {
        var pipe = new Pipe();
        pipe.Writer.Write(data);
        pipe.Writer.Complete();
        try
        {
            var read = Task.Run(async () =>
            {
                while (await MailboxFrames.ReadAsync(pipe.Reader, Request.Parser, MailboxProtocol.MaxRequestFrameBytes, CancellationToken.None) is not null)
                {
                }
            });
            if (!read.Wait(HangBound)) throw new TimeoutException("the mailbox frame reader did not end after its input ended");
        }
        catch (AggregateException e) when (e.InnerException is InvalidDataException)
        {
        }
    }
}
