using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;
using KontinuumP2P.Dht.Records;
using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Net.Hosting;
using KontinuumP2P.Net.Transports;
using KontinuumP2P.Devnet;

namespace KontinuumP2P.Hq.Tests.Slots;

public sealed class SlotRecordTests
{
    private sealed class Revoked(params PeerId[] peers) : IRevocationSource
    {
        public bool IsRevoked(ReadOnlySpan<byte> nodeId)
        {
            foreach (var p in peers)
            {
                if (nodeId.SequenceEqual(p.ToByteArray())) return true;
            }
            return false;
        }
    }

    private DevnetAuthority _authority = null!;
    private TrustAnchors _anchors = null!;
    private Ed25519Identity _hq = null!;
    private KontinuumP2P.Certs.Certificates.Certificate _hqCert = null!;
    private readonly PeerId _mailbox = Ed25519Identity.Generate().PeerId;

    [SetUp]
    public void SetUp()
    {
        _authority = new DevnetAuthority("lab", 3, 2, TimeProvider.System);
        _anchors = TrustAnchors.Create(_authority.Network.Anchors!, TimeProvider.System);
        _hq = Ed25519Identity.Generate();
        _hqCert = _authority.IssueCertificate(_hq, TimeSpan.FromDays(1), ["dht", "hq"]);
    }

    [TearDown]
    public void TearDown()
    {
        _hq.Dispose();
        _authority.Dispose();
    }

    private SlotRecord Record(ulong seq, PeerId? node = null) =>
        SlotRecord.Create("mbx-eu-042", node ?? _mailbox, seq, DateTimeOffset.UtcNow, _hqCert, _hq);

    [Test]
    public void Validator_accepts_an_hq_signed_record_and_names_every_refusal()
    {
        var validator = new SlotRecordValidator(() => _anchors, null);
        var key = SlotRecord.KeyFor("mbx-eu-042");
        var good = Record(1).Encode();
        Assert.That(validator.Validate(key, good).IsValid, Is.True);
        Assert.That(SlotRecord.Decode(good).NodeId, Is.EqualTo(_mailbox));

        Assert.That(validator.Validate(SlotRecord.KeyFor("mbx-eu-043"), good).Reason, Is.EqualTo("key-mismatch"));
        Assert.That(validator.Validate("/slot/BAD"u8.ToArray(), good).Reason, Is.EqualTo("bad-key"));
        Assert.That(validator.Validate(key, good[..^3]).Reason, Is.EqualTo("malformed"));

        using var notHq = Ed25519Identity.Generate();
        var plainCert = _authority.IssueCertificate(notHq, TimeSpan.FromDays(1), ["dht", "mailbox"]);
        var byNonHq = SlotRecord.Create("mbx-eu-042", _mailbox, 9, DateTimeOffset.UtcNow, plainCert, notHq).Encode();
        Assert.That(validator.Validate(key, byNonHq).Reason, Is.EqualTo("not-hq"));

        var tampered = (byte[])good.Clone();
        tampered[^1] ^= 1; // last byte of the signature
        Assert.That(validator.Validate(key, tampered).Reason, Is.EqualTo("bad-signature"));

        using var otherAuthority = new DevnetAuthority("other", 1, 1, TimeProvider.System);
        var foreignCert = otherAuthority.IssueCertificate(_hq, TimeSpan.FromDays(1), ["hq"]);
        var foreign = SlotRecord.Create("mbx-eu-042", _mailbox, 9, DateTimeOffset.UtcNow, foreignCert, _hq).Encode();
        Assert.That(validator.Validate(key, foreign).Reason, Does.StartWith("certificate-"));
    }

    [Test]
    public void A_revoked_hq_certificate_is_refused()
    {
        var validator = new SlotRecordValidator(() => _anchors, new Revoked(_hq.PeerId));
        Assert.That(validator.Validate(SlotRecord.KeyFor("mbx-eu-042"), Record(1).Encode()).Reason, Is.EqualTo("certificate-revoked"));
    }

    [Test]
    public void The_highest_sequence_is_selected()
    {
        var validator = new SlotRecordValidator(() => _anchors, null);
        ReadOnlyMemory<byte>[] values = [Record(3).Encode(), Record(7).Encode(), Record(5).Encode()];
        Assert.That(validator.Select(SlotRecord.KeyFor("mbx-eu-042"), values), Is.EqualTo(1));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Real_dht_nodes_refuse_revoked_hq_records_and_keep_the_newer_sequence(CancellationToken ct)
    {
        var revoked = Ed25519Identity.Generate();
        var revokedCert = _authority.IssueCertificate(revoked, TimeSpan.FromDays(1), ["hq"]);
        var revocations = new Revoked(revoked.PeerId);
        var hosts = new List<PeerHost>();
        var nodes = new List<DhtNode>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                var host = new PeerHost(new PeerHostOptions
                {
                    Identity = Ed25519Identity.Generate(),
                    Transports = [new TcpTransport()],
                    ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
                });
                hosts.Add(host);
                await host.StartAsync(ct);
                var options = new DhtOptions
                {
                    Validators = new RecordValidators().Add(SlotRecord.Namespace, new SlotRecordValidator(() => _anchors, revocations)),
                    BootstrapPeers = nodes.Count == 0 ? [] : [hosts[0].ListenAddresses[0].WithPeerId(hosts[0].PeerId)],
                    Lookup = new KontinuumP2P.Dht.Lookup.LookupOptions { RequestTimeout = TimeSpan.FromSeconds(5), QueryTimeout = TimeSpan.FromSeconds(20) },
                };
                var node = new DhtNode(host, options);
                await node.StartAsync(ct);
                nodes.Add(node);
            }
            foreach (var n in nodes) await n.RefreshAsync(ct);
            var key = SlotRecord.KeyFor("mbx-eu-042");
            var replacement = Ed25519Identity.Generate().PeerId;

            Assert.That(await nodes[1].PutValueAsync(key, Record(5, replacement).Encode(), ct), Is.GreaterThan(0));
            // An older sequence put from another node (a replay of an old record) is not taken by the holders.
            await nodes[2].PutValueAsync(key, Record(3).Encode(), ct);
            var seen = await LatestAsync(nodes[4], key, ct);
            Assert.That(seen.Sequence, Is.EqualTo(5));
            Assert.That(seen.NodeId, Is.EqualTo(replacement));

            // A record signed by a revoked HQ is refused locally and by every holder.
            var forged = SlotRecord.Create("mbx-eu-042", _mailbox, 99, DateTimeOffset.UtcNow, revokedCert, revoked).Encode();
            Assert.That(async () => await nodes[3].PutValueAsync(key, forged, ct), Throws.InstanceOf<InvalidRecordException>());
            Assert.That((await LatestAsync(nodes[0], key, ct)).Sequence, Is.EqualTo(5));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
            foreach (var h in hosts) await h.DisposeAsync();
            revoked.Dispose();
        }
    }

    private static async Task<SlotRecord> LatestAsync(DhtNode node, byte[] key, CancellationToken ct)
    {
        SlotRecord? last = null;
        await foreach (var v in node.GetValueAsync(key, null, ct)) last = SlotRecord.Decode(v.Record.Value.Span);
        return last ?? throw new AssertionException("no slot record found");
    }
}
