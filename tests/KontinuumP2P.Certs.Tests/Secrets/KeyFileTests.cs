using System.Security.Cryptography;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Certs.Secrets;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Certs.Tests.Secrets;

public sealed class KeyFileTests
{
    private static readonly KdfParameters Fast = new(KdfParameters.MinMemoryKiB * 128, 1);
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-keyfile-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void EncryptedKeyRoundTripsAndWrongPassphraseNeverDecrypts()
    {
        using var key = Ed25519Identity.Generate();
        var bytes = KeyFile.EncodeEncrypted(key, KeyFileKind.Node, "a long node passphrase", Fast);
        using (var back = KeyFile.Decode(bytes, KeyFileKind.Node, "a long node passphrase"))
            Assert.That(back.PeerId, Is.EqualTo(key.PeerId));
        foreach (var wrong in new[] { "a long node passphrasE", "", "a long node passphrase " })
            Assert.Throws<CryptographicException>(() => KeyFile.Decode(bytes, KeyFileKind.Node, wrong), wrong);
        Assert.That(Assert.Throws<TrustFormatException>(() => KeyFile.Decode(bytes, KeyFileKind.Node, null))!.Message, Does.Contain("passphrase"));
    }

    [Test]
    public void StatedParametersAreAuthenticated()
    {
        using var key = Ed25519Identity.Generate();
        var bytes = KeyFile.EncodeEncrypted(key, KeyFileKind.Tier0, "backup passphrase", Fast);
        Assert.That(PassphraseEnvelope.ReadHeader(bytes).Kdf, Is.EqualTo(Fast));
        var altered = (byte[])bytes.Clone();
        altered[16] ^= 0x01; // passes 1 → 0? no: low byte of passes (big-endian u32 at 13..16) becomes 0 → refused; use 2
        altered[16] = 2;
        Assert.Throws<CryptographicException>(() => KeyFile.Decode(altered, KeyFileKind.Tier0, "backup passphrase"));
        var flipped = (byte[])bytes.Clone();
        flipped[^1] ^= 0x80;
        Assert.Throws<CryptographicException>(() => KeyFile.Decode(flipped, KeyFileKind.Tier0, "backup passphrase"));
    }

    [Test]
    public void HostileParametersAreRefusedBeforeDerivation()
    {
        using var key = Ed25519Identity.Generate();
        var bytes = KeyFile.EncodeEncrypted(key, KeyFileKind.Node, "pass phrase", Fast);
        bytes[9] = 0x7F; // memory ≈ 2 TiB
        Assert.That(Assert.Throws<TrustFormatException>(() => KeyFile.Decode(bytes, KeyFileKind.Node, "pass phrase"))!.Message, Does.Contain("out-of-bounds"));
    }

    [Test]
    public void MalformedKeyFilesGiveClearErrors()
    {
        using var key = Ed25519Identity.Generate();
        var plain = KeyFile.EncodePlain(key, KeyFileKind.Node);
        Assert.That(Assert.Throws<TrustFormatException>(() => KeyFile.Decode(plain, KeyFileKind.Tier0, null))!.Message, Does.Contain("expected a Tier 0 key"));
        var damaged = (byte[])plain.Clone();
        damaged[20] ^= 1;
        Assert.That(Assert.Throws<TrustFormatException>(() => KeyFile.Decode(damaged, KeyFileKind.Node, null))!.Message, Does.Contain("damaged"));
        Assert.That(Assert.Throws<TrustFormatException>(() => KeyFile.Decode("hello"u8, KeyFileKind.Node, null))!.Message, Does.Contain("not a Kontinuum key file"));
        Assert.That(Assert.Throws<TrustFormatException>(() => KeyFile.Decode(plain.AsSpan(0, 50), KeyFileKind.Node, null))!.Message, Does.Contain("expected 73"));
        var truncated = KeyFile.EncodeEncrypted(key, KeyFileKind.Node, "pass phrase", Fast)[..70];
        Assert.That(Assert.Throws<TrustFormatException>(() => KeyFile.Decode(truncated, KeyFileKind.Node, "pass phrase"))!.Message, Does.Contain("truncated"));
    }

    [Test]
    public void SecretFilesAreCreatedOwnerOnlyAndNeverOverwritten()
    {
        using var key = Ed25519Identity.Generate();
        var path = Path.Combine(_dir, "tier0.key");
        KeyFile.WriteSecret(path, KeyFile.EncodePlain(key, KeyFileKind.Tier0));
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.Throws<IOException>(() => KeyFile.WriteSecret(path, [1, 2, 3]));
        using var back = KeyFile.Decode(KeyFile.ReadBounded(path, KeyFile.MaxFileLength), KeyFileKind.Tier0, null);
        Assert.That(back.PublicKey, Is.EqualTo(key.PublicKey));
    }
}
