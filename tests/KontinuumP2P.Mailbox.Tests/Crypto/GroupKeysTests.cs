using System.Text.Json;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Mailbox.Tests.Crypto;

/// <summary>
/// Key derivation: the HKDF primitive against Wycheproof, the labels against values computed independently (Python's
/// hmac/hashlib, RFC 5869 by hand), and the unlinkability claims (no value shared between a group's mailboxes).
/// </summary>
public sealed class GroupKeysTests
{
    private static readonly byte[] Secret = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    [Test]
    public void HkdfMatchesEveryWycheproofCase()
    {
        using var doc = SharedVectors.LoadJson("wycheproof_hkdf_sha256_test.json");
        int valid = 0, invalid = 0;
        foreach (var group in doc.RootElement.GetProperty("testGroups").EnumerateArray())
        {
            foreach (var test in group.GetProperty("tests").EnumerateArray())
            {
                var output = new byte[test.GetProperty("size").GetInt32()];
                var ok = true;
                try
                {
                    Hkdf256.Derive(Hex(test, "ikm"), Hex(test, "salt"), Hex(test, "info"), output);
                }
                catch (ArgumentException)
                {
                    ok = false;
                }
                if (test.GetProperty("result").GetString() == "valid")
                {
                    Assert.That(ok, Is.True, $"tcId {test.GetProperty("tcId")}");
                    Assert.That(output, Is.EqualTo(Hex(test, "okm")), $"tcId {test.GetProperty("tcId")}");
                    valid++;
                }
                else
                {
                    Assert.That(ok, Is.False, $"tcId {test.GetProperty("tcId")} must be refused");
                    invalid++;
                }
            }
        }
        Assert.That(valid, Is.GreaterThan(50));
        Assert.That(invalid, Is.GreaterThan(0));
    }

    [Test]
    public void LabelsGiveTheIndependentlyComputedValues()
    {
        using var secret = GroupSecret.FromBytes(Secret);
        using var keys = new GroupKeys(secret);
        var slot = keys.ForSlot("mbx-eu-042");
        Assert.That(Convert.ToHexStringLower(keys.BlobKey), Is.EqualTo("427c52add8f4de025770479f9cf40c620b73207b898f6b728af3c424425d7ff6"));
        Assert.That(Convert.ToHexStringLower(slot.MailboxId), Is.EqualTo("c86edf510de4c0b8d4c8d933bfe150186920e7f6857b810ff389560917b04cf7"));
        Assert.That(Convert.ToHexStringLower(slot.Capability), Is.EqualTo("907444ae6042e62f9001f8c540642f7651115d9cf1113d0e5041066f10f47745"));
        Assert.That(Convert.ToHexStringLower(slot.ArchiveKey), Is.EqualTo("c1a00276d3748bdcbf9a2b2c7563918043e8a4c9ca486edf286989e7a386febe"));
        var device = Enumerable.Repeat((byte)0xaa, 32).ToArray();
        Assert.That(Convert.ToHexStringLower(GroupKeys.DeviceId(device, slot)), Is.EqualTo("83dd40c930314f8c94c34b8683042d82"));
    }

    [Test]
    public void ThreeMailboxesOfOneGroupShareNoValue()
    {
        using var secret = GroupSecret.Generate();
        using var keys = new GroupKeys(secret);
        var device = GroupSecretTests.RandomDeviceSecret();
        var values = new List<byte[]> { keys.BlobKey.ToArray() };
        foreach (var name in new[] { "mbx-eu-042", "mbx-us-007", "mbx-ap-311" })
        {
            var slot = keys.ForSlot(name);
            values.AddRange([slot.MailboxId, slot.Capability, slot.ArchiveKey, GroupKeys.DeviceId(device, slot)]);
        }
        var hex = values.Select(Convert.ToHexString).ToList();
        Assert.That(hex, Is.Unique);
        // Not even a shared 8-byte window: nothing a mailbox sees hints at another mailbox's values.
        var windows = values.Skip(1).Select((v, i) => (Group: i / 4, Windows: Enumerable.Range(0, v.Length - 7).Select(o => Convert.ToHexString(v, o, 8))))
            .GroupBy(x => x.Group).Select(g => g.SelectMany(x => x.Windows).ToHashSet()).ToList();
        for (var a = 0; a < windows.Count; a++)
            for (var b = a + 1; b < windows.Count; b++)
                Assert.That(windows[a].Overlaps(windows[b]), Is.False);
    }

    [Test]
    public void DeviceIdsDifferPerMailboxAndPerDevice()
    {
        using var secret = GroupSecret.Generate();
        using var keys = new GroupKeys(secret);
        var d1 = GroupSecretTests.RandomDeviceSecret();
        var d2 = GroupSecretTests.RandomDeviceSecret();
        var a = keys.ForSlot("a");
        var b = keys.ForSlot("b");
        Assert.That(GroupKeys.DeviceId(d1, a), Is.Not.EqualTo(GroupKeys.DeviceId(d1, b)));
        Assert.That(GroupKeys.DeviceId(d1, a), Is.Not.EqualTo(GroupKeys.DeviceId(d2, a)));
        Assert.That(GroupKeys.DeviceId(d1, a), Is.EqualTo(GroupKeys.DeviceId(d1, keys.ForSlot("a"))));
    }

    [Test]
    public void AnotherGroupSecretGivesOtherMailboxes()
    {
        using var s1 = GroupSecret.Generate();
        using var s2 = GroupSecret.Generate();
        using var k1 = new GroupKeys(s1);
        using var k2 = new GroupKeys(s2);
        Assert.That(k1.ForSlot("mbx-1").MailboxId, Is.Not.EqualTo(k2.ForSlot("mbx-1").MailboxId));
        Assert.That(k1.ForSlot("mbx-1").Capability, Is.Not.EqualTo(k2.ForSlot("mbx-1").Capability));
    }

    [TestCase("")]
    [TestCase("has space")]
    [TestCase("a,b")]
    [TestCase("ünïcode")]
    public void BadSlotNamesAreRefusedByName(string slot)
    {
        using var secret = GroupSecret.Generate();
        using var keys = new GroupKeys(secret);
        Assert.That(() => keys.ForSlot(slot), Throws.ArgumentException);
        Assert.That(() => keys.ForSlot(new string('x', 65)), Throws.ArgumentException.With.Message.Contains("1..64"));
    }

    private static byte[] Hex(JsonElement test, string name) => Convert.FromHexString(test.GetProperty(name).GetString()!);
}

/// <summary>Group secrets: random, from a passphrase (deterministic for the same salt and parameters).</summary>
public sealed class GroupSecretTests
{
    internal static byte[] RandomDeviceSecret() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(GroupKeys.DeviceSecretLength);

    [Test]
    public void PassphraseSecretIsDeterministicPerSaltAndParameters()
    {
        var salt = GroupSecret.NewSalt();
        var kdf = new KdfParameters(KdfParameters.MinMemoryKiB * 8, 1);
        using var a = GroupSecret.FromPassphrase("correct horse", salt, kdf);
        using var b = GroupSecret.FromPassphrase("correct horse", salt, kdf);
        using var c = GroupSecret.FromPassphrase("correct horse", GroupSecret.NewSalt(), kdf);
        using var d = GroupSecret.FromPassphrase("correct horsf", salt, kdf);
        using var e = GroupSecret.FromPassphrase("correct horse", salt, kdf with { Passes = 2 });
        Assert.That(a.SameAs(b), Is.True);
        Assert.That(a.SameAs(c) || a.SameAs(d) || a.SameAs(e), Is.False);
    }

    [Test]
    public void RandomSecretsDifferAndBadInputIsRefused()
    {
        using var a = GroupSecret.Generate();
        using var b = GroupSecret.Generate();
        Assert.That(a.SameAs(b), Is.False);
        Assert.That(() => GroupSecret.FromBytes(new byte[31]), Throws.ArgumentException);
        Assert.That(() => GroupSecret.FromPassphrase("", GroupSecret.NewSalt(), new KdfParameters(64, 1)), Throws.ArgumentException);
        Assert.That(() => GroupSecret.FromPassphrase("x", new byte[8], new KdfParameters(64, 1)), Throws.ArgumentException);
        Assert.That(() => GroupSecret.FromPassphrase("x", GroupSecret.NewSalt(), new KdfParameters(1, 1)), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
