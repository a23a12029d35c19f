using FsCheck;
using FsCheck.Fluent;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Records;

namespace KontinuumP2P.Dht.Tests.Records;

public sealed class RecordValidatorTests
{
    [Test]
    public void Pk_records_must_carry_the_key_of_the_peer_they_name()
    {
        using var identity = Ed25519Identity.Generate();
        using var other = Ed25519Identity.Generate();
        var validators = new RecordValidators();
        var key = PublicKeyValidator.KeyFor(identity.PeerId);

        Assert.That(validators.Validate(key, identity.EncodedPublicKey).IsValid, Is.True);
        Assert.That(validators.Validate(key, other.EncodedPublicKey).Reason, Is.EqualTo("key-mismatch"));
        Assert.That(validators.Validate(key, new byte[] { 1, 2, 3 }).Reason, Is.EqualTo("bad-value"));
        Assert.That(validators.Validate("/pk/"u8.ToArray(), identity.EncodedPublicKey).Reason, Is.EqualTo("bad-key"));
        Assert.That(validators.Validate("/ipns/abc"u8.ToArray(), new byte[] { 1 }).Reason, Is.EqualTo("unknown-namespace"));
        Assert.That(validators.Validate("nope"u8.ToArray(), new byte[] { 1 }).Reason, Is.EqualTo("bad-key"));
    }

    [Test]
    public void Namespaces_need_three_slash_separated_parts()
    {
        Assert.That(RecordValidators.NamespaceOf("/node/abc"u8), Is.EqualTo("node"));
        Assert.That(RecordValidators.NamespaceOf("/node/"u8), Is.Null);
        Assert.That(RecordValidators.NamespaceOf("/node"u8), Is.Null);
        Assert.That(RecordValidators.NamespaceOf("//abc"u8), Is.Null);
    }

    [Test]
    public void Selection_is_the_highest_rank_whatever_the_order_of_the_answers()
    {
        var values = Gen.ListOf(Gen.Choose(0, 5).Select(v => (byte)v).ArrayOf(3)).Where(l => l.Count > 0);
        var property = Prop.ForAll(Gen.Zip(values, Gen.Choose(0, int.MaxValue - 1)).ToArbitrary(), t =>
        {
            var (list, seed) = t;
            var memories = list.Select(v => (ReadOnlyMemory<byte>)v).ToList();
            var shuffled = memories.OrderBy(_ => new Random(seed).Next()).ToList();
            // Rank by the first byte: many ties, broken by the SHA-256 rule.
            var a = memories[RecordSelection.BestBy(memories, v => v.Span[0])];
            var b = shuffled[RecordSelection.BestBy(shuffled, v => v.Span[0])];
            var highest = memories.Max(v => v.Span[0]);
            return a.Span.SequenceEqual(b.Span) && a.Span[0] == highest;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), property);
    }
}
