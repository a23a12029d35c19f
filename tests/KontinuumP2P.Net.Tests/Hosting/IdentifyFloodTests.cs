using System.Buffers;
using System.Text;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Codecs;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Protocols;
using KontinuumP2P.Testing;
using static KontinuumP2P.Testing.HostilePeer;

namespace KontinuumP2P.Net.Tests.Hosting;

/// <summary>
/// Issue #11: identify floods through a live host. A scripted peer pushes identify (<c>/ipfs/id/push/1.0.0</c>) again
/// and again, each stream carrying the most messages a stream may hold, each as large as allowed and full of fresh
/// addresses, protocols and an oversized agent string: the peer store keeps its per-peer bounds, the heap stays flat,
/// an over-long message resets only its stream, and an honest peer is served throughout.
/// </summary>
[TestFixture]
[CancelAfter(90_000)]
public sealed class IdentifyFloodTests : HostileTargetFixture
{
    private const int Pushes = 100;

    [Test]
    public async Task Repeated_identify_pushes_full_of_addresses_and_protocols_keep_the_per_peer_bounds(CancellationToken ct)
    {
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        var applied = 0;
        var appliedSignal = new SemaphoreSlim(0);
        Target.PeerIdentified += (_, e) =>
        {
            if (e.Peer != hostile.PeerId) return;
            Interlocked.Increment(ref applied);
            appliedSignal.Release();
        };
        await AssertHonestServedAsync(ct);
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long bytesSent = 0;
        var addressesSent = 0;
        var protocolsSent = 0;
        for (var push = 0; push < Pushes; push++)
        {
            var messages = new List<byte[]>();
            for (var m = 0; m < IdentifyMessage.MaxMessagesPerStream; m++)
            {
                var message = FullMessage(push, m, out var addresses, out var protocols);
                messages.Add(message);
                addressesSent += addresses;
                protocolsSent += protocols;
            }
            bytesSent += await PushAsync(hostile, StreamId(push), messages, ct);
            // Each push is applied once (an event, not a sleep): then the store must already hold its bound.
            Assert.That(await appliedSignal.WaitAsync(TimeSpan.FromSeconds(30), ct), Is.True, $"push {push} was applied");
            var info = Target.PeerStore.Get(hostile.PeerId);
            Assert.That(info, Is.Not.Null);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(info!.Addresses, Has.Count.LessThanOrEqualTo(PeerStore.MaxAddressesPerPeer));
                Assert.That(info.Protocols, Has.Count.LessThanOrEqualTo(PeerStore.MaxProtocolsPerPeer));
                Assert.That(info.AgentVersion!.Length, Is.LessThanOrEqualTo(PeerStore.MaxTextLength));
            }
            if (push % 25 == 24) await AssertHonestServedAsync(ct);
        }
        var heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        var final = Target.PeerStore.Get(hostile.PeerId)!;
        TestContext.Out.WriteLine(
            $"{Pushes} pushes × {IdentifyMessage.MaxMessagesPerStream} messages ({bytesSent / 1024} KiB, {addressesSent} addresses, {protocolsSent} protocols): " +
            $"store kept {final.Addresses.Count} addresses, {final.Protocols.Count} protocols, agent {final.AgentVersion!.Length} chars; " +
            $"heap {heapBefore / 1024} KiB → {heapAfter / 1024} KiB; {applied} applied");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(applied, Is.EqualTo(Pushes));
            // The last message of the last push is what was applied: its newest addresses, bounded.
            Assert.That(final.Addresses, Has.Count.EqualTo(PeerStore.MaxAddressesPerPeer));
            Assert.That(final.Protocols, Has.Count.EqualTo(PeerStore.MaxProtocolsPerPeer));
            // ~8 MiB pushed (keeping it would take tens of MiB of objects); what is kept is a few KiB.
            Assert.That(heapAfter - heapBefore, Is.LessThan(6L * 1024 * 1024), "heap growth over the flood");
            Assert.That(Target.Resources.System.Streams, Is.LessThanOrEqualTo(4), "no push stream is left open");
        }
        Assert.That(await hostile.PingAsync(1, ct), Is.True, "the flooding session itself is still served");
        await AssertHonestServedAsync(ct);
    }

    [Test]
    public async Task A_flooded_answer_to_the_hosts_own_identify_request_is_bounded_the_same_way(CancellationToken ct)
    {
        var identified = new TaskCompletionSource<Core.Identity.PeerId>(TaskCreationOptions.RunContinuationsAsynchronously);
        Target.PeerIdentified += (_, e) =>
        {
            if (e.Peer != Honest.PeerId) identified.TrySetResult(e.Peer);
        };
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        // The host identifies every new connection: it opens /ipfs/id/1.0.0 to us (an even stream id).
        var request = await hostile.ReadUntilAsync(f => f.Type is Data or WindowUpdate && (f.Flags & Syn) != 0 && f.StreamId != 0 && f.StreamId % 2 == 0, ct);
        Assert.That(request, Is.Not.Null, "the host asked who we are");
        var answer = new MemoryStream();
        foreach (var line in new[] { "/multistream/1.0.0\n", IdentifyProtocol.Id + "\n" }) WritePrefixed(answer, Encoding.UTF8.GetBytes(line));
        // The answer to a request must carry the connection's key (an Ed25519 peer id embeds it after its 2-byte prefix).
        var key = hostile.PeerId.ToByteArray()[2..];
        for (var m = 0; m < IdentifyMessage.MaxMessagesPerStream; m++) WritePrefixed(answer, FullMessage(0, m, out _, out _, key));
        var bytes = answer.ToArray();
        await hostile.SendFrameAsync(Data, Ack, request!.StreamId, (uint)bytes.Length, bytes, ct);
        await hostile.SendFrameAsync(Data, Fin, request.StreamId, 0, default, ct);

        Assert.That(await identified.Task.WaitAsync(TimeSpan.FromSeconds(30), ct), Is.EqualTo(hostile.PeerId));
        var info = Target.PeerStore.Get(hostile.PeerId)!;
        TestContext.Out.WriteLine($"identify answer of {bytes.Length / 1024} KiB: store kept {info.Addresses.Count} addresses, {info.Protocols.Count} protocols, agent {info.AgentVersion!.Length} chars");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(info.Addresses, Has.Count.EqualTo(PeerStore.MaxAddressesPerPeer));
            Assert.That(info.Protocols, Has.Count.EqualTo(PeerStore.MaxProtocolsPerPeer));
            Assert.That(info.AgentVersion.Length, Is.EqualTo(PeerStore.MaxTextLength));
        }
        Assert.That(await hostile.PingAsync(4, ct), Is.True);
        await AssertHonestServedAsync(ct);
    }

    [Test]
    public async Task An_identify_message_over_the_size_limit_resets_only_its_stream_and_changes_nothing(CancellationToken ct)
    {
        await using var hostile = await HostilePeer.ConnectAsync(TestHosts.AddressOf(Target), ct);
        // A length prefix of 9,000 bytes (over the 8 KiB limit) followed by the bytes: refused before it is parsed.
        var oversized = new byte[IdentifyMessage.MaxLength + 808];
        Random.Shared.NextBytes(oversized);
        await PushAsync(hostile, 1, [oversized], ct, expectReset: true);
        Assert.That(Target.PeerStore.Get(hostile.PeerId)?.Addresses ?? [], Is.Empty, "nothing from the refused message was stored");
        Assert.That(await hostile.PingAsync(2, ct), Is.True, "the session lives on");
        await AssertHonestServedAsync(ct);
    }

    private static uint StreamId(int push) => 1 + 2 * (uint)push;

    // One identify message just under the size limit: fresh addresses, fresh protocols and a 4,000-character agent.
    private static byte[] FullMessage(int push, int index, out int addresses, out int protocols, byte[]? publicKey = null)
    {
        var agent = new string('a', 4000);
        IdentifyMessage Make(int count) => new(publicKey,
            [.. Enumerable.Range(0, count).Select(i => Multiaddr.Parse($"/ip4/10.{push % 256}.{i / 256 % 256}.{i % 256}/tcp/{1000 + index}"))],
            [.. Enumerable.Range(0, count).Select(i => $"/p/{push}/{index}/{i}")], null, "ipfs/0.1.0", agent);
        // The largest count that still encodes (binary search: Encode refuses anything over the limit).
        int low = 1, high = 512;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (TryEncode(Make(mid)) is not null) low = mid;
            else high = mid - 1;
        }
        addresses = protocols = low;
        return Make(low).Encode();
    }

    private static byte[]? TryEncode(IdentifyMessage message)
    {
        try
        {
            return message.Encode();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    // Opens a stream, selects identify push, writes the length-prefixed messages and FIN, and waits for the host to
    // close or reset the stream. Returns the bytes sent.
    private static async Task<long> PushAsync(HostilePeer hostile, uint id, IReadOnlyList<byte[]> messages, CancellationToken ct, bool expectReset = false)
    {
        var payload = new MemoryStream();
        foreach (var line in new[] { "/multistream/1.0.0\n", IdentifyProtocol.PushId + "\n" }) WritePrefixed(payload, Encoding.UTF8.GetBytes(line));
        foreach (var message in messages) WritePrefixed(payload, message);
        var bytes = payload.ToArray();
        await hostile.SendFrameAsync(Data, Syn, id, (uint)bytes.Length, bytes, ct);
        await hostile.SendFrameAsync(Data, Fin, id, 0, default, ct);
        var end = await hostile.ReadUntilAsync(f => f.StreamId == id && (f.Flags & (Fin | Rst)) != 0, ct);
        Assert.That(end, Is.Not.Null, "the host ends the push stream");
        if (expectReset) Assert.That(end!.Flags & Rst, Is.EqualTo(Rst), "an oversized message resets the stream");
        return bytes.Length;
    }

    private static void WritePrefixed(MemoryStream stream, byte[] bytes)
    {
        Span<byte> prefix = stackalloc byte[10];
        stream.Write(prefix[..Varint.Write(prefix, (ulong)bytes.Length)]);
        stream.Write(bytes);
    }
}
