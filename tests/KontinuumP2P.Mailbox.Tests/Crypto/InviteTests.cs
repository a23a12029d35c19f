using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Mailbox.Crypto;

namespace KontinuumP2P.Mailbox.Tests.Crypto;

/// <summary>Invites: round trip, size, and a distinct error for each way one can be bad.</summary>
public sealed class InviteTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 18, 0, 0, TimeSpan.Zero);

    private static Invite Sample(byte[]? secret = null) => new()
    {
        Network = "devnet-3f9a",
        Slots = ["mbx-eu-042", "mbx-us-007", "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"],
        ExpiresAt = Now.AddDays(7),
        Secret = secret ?? System.Security.Cryptography.RandomNumberGenerator.GetBytes(32),
    };

    [Test]
    public void RoundTripsAndFitsAQrCode()
    {
        var invite = Sample();
        var text = invite.Encode();
        TestContext.Out.WriteLine($"{text.Length} characters: {text}");
        // A QR code (version 40, level M) holds 2,331 bytes in byte mode; aim far below for phone cameras.
        Assert.That(text.Length, Is.LessThan(300));
        Assert.That(text, Does.Match("^[A-Za-z0-9_-]+$"));
        var parsed = Invite.Parse(text, Now);
        Assert.That(parsed.Network, Is.EqualTo(invite.Network));
        Assert.That(parsed.Slots, Is.EqualTo(invite.Slots));
        Assert.That(parsed.ExpiresAt, Is.EqualTo(invite.ExpiresAt));
        Assert.That(parsed.Secret, Is.EqualTo(invite.Secret));
        using var a = parsed.OpenSecret();
        using var b = GroupSecret.FromBytes(invite.Secret!);
        Assert.That(a.SameAs(b), Is.True);
    }

    [Test]
    public void PassphraseInviteCarriesSaltAndParametersButNoSecret()
    {
        var salt = GroupSecret.NewSalt();
        var kdf = new KdfParameters(64, 1);
        var invite = Sample() with { Secret = null, Salt = salt, Kdf = kdf };
        var parsed = Invite.Parse(invite.Encode(), Now);
        Assert.That(parsed.NeedsPassphrase, Is.True);
        Assert.That(parsed.Kdf, Is.EqualTo(kdf));
        Assert.That(() => parsed.OpenSecret(), Throws.ArgumentException.With.Message.Contains("passphrase"));
        using var joined = parsed.OpenSecret("tr0ub4dor");
        using var creator = GroupSecret.FromPassphrase("tr0ub4dor", salt, kdf);
        Assert.That(joined.SameAs(creator), Is.True);
    }

    [Test]
    public void ExpiredInviteIsRefused() =>
        Assert.That(() => Invite.Parse(Sample().Encode(), Now.AddDays(8)),
            Throws.InstanceOf<InviteException>().With.Property(nameof(InviteException.Error)).EqualTo(InviteError.Expired).And.Message.Contains("expired"));

    [Test]
    public void EveryTruncationIsRefusedAsTruncatedOrCorrupt()
    {
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(Sample().Encode());
        for (var length = 1; length < bytes.Length; length++)
        {
            var text = System.Buffers.Text.Base64Url.EncodeToString(bytes.AsSpan(0, length));
            var error = Assert.Throws<InviteException>(() => Invite.Parse(text, Now))!.Error;
            Assert.That(error, Is.AnyOf(InviteError.Truncated, InviteError.Corrupt, InviteError.Malformed), $"length {length}");
        }
        var last = System.Buffers.Text.Base64Url.EncodeToString(bytes.AsSpan(0, bytes.Length - 2));
        Assert.That(Assert.Throws<InviteException>(() => Invite.Parse(last, Now))!.Error, Is.EqualTo(InviteError.Truncated));
    }

    [Test]
    public void EveryFlippedBitIsRefused()
    {
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(Sample().Encode());
        for (var i = 1; i < bytes.Length; i++)
        {
            var copy = bytes.ToArray();
            copy[i] ^= 0x04;
            Assert.That(() => Invite.Parse(System.Buffers.Text.Base64Url.EncodeToString(copy), Now), Throws.InstanceOf<InviteException>(), $"byte {i}");
        }
    }

    [Test]
    public void OtherVersionAndGarbageHaveTheirOwnErrors()
    {
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(Sample().Encode());
        bytes[0] = 3;
        Assert.That(Assert.Throws<InviteException>(() => Invite.Parse(System.Buffers.Text.Base64Url.EncodeToString(bytes), Now))!.Error, Is.EqualTo(InviteError.BadVersion));
        Assert.That(Assert.Throws<InviteException>(() => Invite.Parse("not base64!", Now))!.Error, Is.EqualTo(InviteError.Malformed));
        Assert.That(Assert.Throws<InviteException>(() => Invite.Parse("", Now))!.Error, Is.EqualTo(InviteError.Malformed));
        Assert.That(Assert.Throws<InviteException>(() => Invite.Parse(new string('A', 5000), Now))!.Error, Is.EqualTo(InviteError.Malformed));
    }

    [Test]
    public void BadFieldsAreRefusedWhenEncoding()
    {
        Assert.That(() => (Sample() with { Slots = [] }).Encode(), Throws.ArgumentException);
        Assert.That(() => (Sample() with { Slots = ["a", "b", "c", "d"] }).Encode(), Throws.ArgumentException);
        Assert.That(() => (Sample() with { Network = "" }).Encode(), Throws.ArgumentException);
        Assert.That(() => (Sample() with { Secret = null }).Encode(), Throws.ArgumentException);
    }

    [Test]
    public void HistoryKeysRoundTripAsVersionTwoAndStayWithinTheTextLimit()
    {
        Assert.That(System.Buffers.Text.Base64Url.DecodeFromChars(Sample().Encode())[0], Is.EqualTo(Invite.BaseVersion), "no history: version 1, readable by older builds");
        var keys = Enumerable.Range(0, Invite.MaxHistoryKeys).Select(_ => System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToList();
        var text = (Sample() with { HistoryKeys = keys }).Encode();
        Assert.That(text.Length, Is.LessThanOrEqualTo(Invite.MaxTextLength));
        Assert.That(System.Buffers.Text.Base64Url.DecodeFromChars(text)[0], Is.EqualTo(Invite.CurrentVersion));
        var parsed = Invite.Parse(text, Now);
        Assert.That(parsed.HistoryKeys, Is.EqualTo(keys));
        Assert.That(() => (Sample() with { HistoryKeys = [.. keys, keys[0]] }).Encode(), Throws.ArgumentException, "more than the maximum");
        Assert.That(() => (Sample() with { HistoryKeys = [new byte[31]] }).Encode(), Throws.ArgumentException);

        // A count byte of 0 or over the maximum is malformed (the check bytes are recomputed so only the count is wrong).
        var body = System.Buffers.Text.Base64Url.DecodeFromChars((Sample() with { HistoryKeys = [keys[0]] }).Encode())[..^4];
        body[^33] = 0;
        var bad = System.Buffers.Text.Base64Url.EncodeToString([.. body, .. KontinuumP2P.Certs.Hashing.Blake3.Hash(body).AsSpan(0, 4)]);
        Assert.That(Assert.Throws<InviteException>(() => Invite.Parse(bad, Now))!.Error, Is.EqualTo(InviteError.Malformed));
    }
}
