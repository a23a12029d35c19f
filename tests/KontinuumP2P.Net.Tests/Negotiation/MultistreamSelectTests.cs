using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Net.Negotiation;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Net.Tests.Negotiation;

[TestFixture]
[CancelAfter(10_000)]
public sealed class MultistreamSelectTests
{
    private static readonly byte[] Header = [0x13, .. "/multistream/1.0.0\n"u8];

    [Test]
    public async Task Dialer_sends_header_and_first_proposal_in_one_write_without_waiting(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var select = MultistreamSelect.SelectAsync(dialer, ["/noise"], ct).AsTask();

        // Read what the dialer wrote before the listener has said anything.
        var bytes = await ReadExactlyAsync(listener.Input, Header.Length + 8, ct);
        Assert.That(bytes, Is.EqualTo((byte[])[.. Header, 0x07, .. "/noise\n"u8]));
        Assert.That(select.IsCompleted, Is.False);

        await WriteAsync(listener.Output, [.. Header, 0x07, .. "/noise\n"u8], ct);
        Assert.That(await select, Is.EqualTo("/noise"));
    }

    [Test]
    public async Task Na_loop_moves_to_the_next_proposal_and_leaves_trailing_bytes(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/b/1.0.0"], ct).AsTask();
        var select = MultistreamSelect.SelectAsync(dialer, ["/a/1.0.0", "/b/1.0.0"], ct).AsTask();

        Assert.That(await handle, Is.EqualTo("/b/1.0.0"));
        // The dialer pipelines application data right after the selection: it must stay for the protocol.
        await WriteAsync(dialer.Output, "payload"u8.ToArray(), ct);
        Assert.That(await select, Is.EqualTo("/b/1.0.0"));
        Assert.That(Encoding.ASCII.GetString(await ReadExactlyAsync(listener.Input, 7, ct)), Is.EqualTo("payload"));
    }

    [Test]
    public async Task Exhausted_proposals_throw_protocol_not_supported(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/x"], ct).AsTask();
        Assert.That(async () => await MultistreamSelect.SelectAsync(dialer, ["/a", "/b", "/c"], ct),
            Throws.TypeOf<ProtocolNotSupportedException>().With.Message.Contains("/c"));
        await dialer.DisposeAsync();
        Assert.That(async () => await handle, Throws.InstanceOf<InvalidDataException>());
    }

    [Test]
    public async Task Responder_answers_na_with_the_exact_bytes(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/yes"], ct).AsTask();
        await WriteAsync(dialer.Output, [.. Header, 0x04, .. "/no\n"u8], ct);
        var reply = await ReadExactlyAsync(dialer.Input, Header.Length + 4, ct);
        Assert.That(reply[Header.Length..], Is.EqualTo(new byte[] { 0x03, 0x6e, 0x61, 0x0a }));
        await WriteAsync(dialer.Output, [0x05, .. "/yes\n"u8], ct);
        Assert.That(await handle, Is.EqualTo("/yes"));
    }

    [Test]
    public async Task Ls_lists_supported_protocols_in_js_format(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/noise"], ct).AsTask();
        await WriteAsync(dialer.Output, [.. Header, 0x03, .. "ls\n"u8], ct);
        var reply = await ReadExactlyAsync(dialer.Input, Header.Length + 10, ct);
        // js probe: 09 07 "/noise\n" 0a
        Assert.That(Convert.ToHexString(reply[Header.Length..]), Is.EqualTo("09072F6E6F6973650A0A"));
        Assert.That(handle.IsCompleted, Is.False);
        await dialer.DisposeAsync();
        Assert.That(async () => await handle, Throws.InstanceOf<InvalidDataException>());
    }

    [Test]
    public async Task ListAsync_reads_an_ls_reply(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/a/1", "/b/2"], ct).AsTask();
        var list = await MultistreamSelect.ListAsync(dialer, ct);
        Assert.That(list, Is.EquivalentTo(new[] { "/a/1", "/b/2" }));
        Assert.That(handle.IsCompleted, Is.False);
    }

    [Test]
    public async Task Oversized_message_is_refused_before_it_is_buffered(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/a"], ct).AsTask();
        // Length 1025 (varint 81 08) and no body at all: the cap must trigger on the prefix alone.
        await WriteAsync(dialer.Output, [0x81, 0x08], ct);
        Assert.That(async () => await handle, Throws.InstanceOf<InvalidDataException>().With.Message.Contains("1024"));
    }

    [Test]
    public async Task Three_byte_length_prefix_is_refused(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/a"], ct).AsTask();
        await WriteAsync(dialer.Output, [0x80, 0x80, 0x01], ct);
        Assert.That(async () => await handle, Throws.InstanceOf<InvalidDataException>().With.Message.Contains("2 bytes"));
    }

    [Test]
    public async Task Message_without_newline_aborts(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/a"], ct).AsTask();
        await WriteAsync(dialer.Output, [0x13, .. "/multistream/1.0.0X"u8], ct);
        Assert.That(async () => await handle, Throws.InstanceOf<InvalidDataException>().With.Message.Contains("newline"));
    }

    [Test]
    public async Task Wrong_header_from_listener_fails_the_dialer(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var select = MultistreamSelect.SelectAsync(dialer, ["/a"], ct).AsTask();
        await WriteAsync(listener.Output, [0x04, .. "/xx\n"u8], ct);
        Assert.That(async () => await select, Throws.InstanceOf<InvalidDataException>().With.Message.Contains("/xx"));
    }

    [Test]
    public async Task Bytes_split_across_writes_are_reassembled(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/split/1.0.0"], ct).AsTask();
        byte[] all = [.. Header, 0x0d, .. "/split/1.0.0\n"u8];
        foreach (var b in all) await WriteAsync(dialer.Output, [b], ct);
        Assert.That(await handle, Is.EqualTo("/split/1.0.0"));
    }

    [Test]
    public void Writing_a_protocol_over_the_cap_is_refused()
    {
        var writer = new ArrayBufferWriter<byte>();
        Assert.That(() => MultistreamMessage.Write(writer, "/" + new string('x', 1023)), Throws.ArgumentException);
        MultistreamMessage.Write(writer, "/" + new string('x', 1022));
        Assert.That(writer.WrittenCount, Is.EqualTo(2 + 1024));
    }

    [Test]
    public async Task Endless_na_rounds_are_cut_off(CancellationToken ct)
    {
        var (dialer, listener) = ConnectionPair.Create();
        var handle = MultistreamSelect.HandleAsync(listener, ["/a"], ct).AsTask();
        var drain = DrainAsync(dialer.Input, ct);
        var spam = new List<byte>(Header);
        for (var i = 0; i < MultistreamSelect.MaxRounds; i++) spam.AddRange([0x03, .. "/z\n"u8]);
        await WriteAsync(dialer.Output, [.. spam], ct);
        Assert.That(async () => await handle, Throws.InstanceOf<InvalidDataException>().With.Message.Contains("64"));
        await listener.DisposeAsync();
        await drain;
        await dialer.DisposeAsync();
    }

    private static async Task DrainAsync(PipeReader reader, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) return;
        }
    }

    private static async Task WriteAsync(PipeWriter writer, byte[] bytes, CancellationToken ct) =>
        await writer.WriteAsync(bytes, ct);

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            if (result.Buffer.Length >= count)
            {
                var bytes = result.Buffer.Slice(0, count).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(count));
                return bytes;
            }
            if (result.IsCompleted) throw new EndOfStreamException();
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
