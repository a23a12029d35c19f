using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Mailbox.Tests.Crypto;

/// <summary>Padding, sealing, opening and blob ids: known answers, boundaries and tampering.</summary>
public sealed class BlobCipherTests
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    [Test]
    public void AeadMatchesEveryWycheproofXChaChaCase()
    {
        using var doc = SharedVectors.LoadJson("wycheproof_xchacha20_poly1305_test.json");
        int valid = 0, invalid = 0;
        foreach (var group in doc.RootElement.GetProperty("testGroups").EnumerateArray())
        {
            foreach (var test in group.GetProperty("tests").EnumerateArray())
            {
                var (key, nonce, aad, msg) = (Hex(test, "key"), Hex(test, "iv"), Hex(test, "aad"), Hex(test, "msg"));
                byte[] expected = [.. Hex(test, "ct"), .. Hex(test, "tag")];
                var plaintext = new byte[Math.Max(0, expected.Length - BlobCipher.TagLength)];
                var opened = BlobCipher.Decrypt(key, nonce, aad, expected, plaintext);
                var id = test.GetProperty("tcId").GetInt32();
                if (test.GetProperty("result").GetString() == "valid")
                {
                    Assert.That(opened, Is.True, $"tcId {id}");
                    Assert.That(plaintext, Is.EqualTo(msg), $"tcId {id}");
                    var sealedBytes = new byte[msg.Length + BlobCipher.TagLength];
                    BlobCipher.Encrypt(key, nonce, aad, msg, sealedBytes);
                    Assert.That(sealedBytes, Is.EqualTo(expected), $"tcId {id}");
                    valid++;
                }
                else
                {
                    Assert.That(opened, Is.False, $"tcId {id} must not open");
                    invalid++;
                }
            }
        }
        Assert.That(valid, Is.GreaterThan(100));
        Assert.That(invalid, Is.GreaterThan(0));
    }

    [Test]
    public void BlobIdOfEmptyInputIsTheKnownCid()
    {
        // BLAKE3("") = af1349b9…3262 (the BLAKE3 reference); the CID text computed with Python's base64.b32encode.
        var id = BlobId.Of([]);
        Assert.That(id.ToHex(), Is.EqualTo("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"));
        Assert.That(id.ToString(), Is.EqualTo("bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi"));
        Assert.That(BlobId.Parse(id.ToString()), Is.EqualTo(id));
        Assert.That(BlobId.Parse(id.ToHex()), Is.EqualTo(id));
    }

    [TestCase("")]
    [TestCase("bafy")]
    [TestCase("xafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi")]
    [TestCase("bafkreifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi")] // sha2-256 multihash, not blake3
    public void BadBlobIdTextIsRefused(string text) =>
        Assert.That(() => BlobId.Parse(text), Throws.InstanceOf<FormatException>());

    [TestCase(0, 1024)]
    [TestCase(1, 1024)]
    [TestCase(1024, 1024)]
    [TestCase(1025, 4096)]
    [TestCase(65536, 65536)]
    [TestCase(65537, 262144)]
    [TestCase(1024 * 1024, 1024 * 1024)]
    public void PaddingPicksTheSmallestClassAndRoundTrips(int length, int expectedClass)
    {
        var plaintext = RandomNumberGenerator.GetBytes(length);
        var padded = BlobPadding.Pad(plaintext);
        Assert.That(padded, Has.Length.EqualTo(BlobPadding.HeaderLength + expectedClass));
        Assert.That(BlobPadding.Unpad(padded), Is.EqualTo(plaintext));
        var sealedBlob = BlobCipher.Seal(Key, plaintext);
        Assert.That(sealedBlob.Bytes, Has.Length.EqualTo(expectedClass + BlobCipher.Overhead));
        Assert.That(sealedBlob.Bytes.Length, Is.LessThanOrEqualTo(1024 * 1024 + 64));
        Assert.That(BlobCipher.Open(Key, sealedBlob.Bytes), Is.EqualTo(plaintext));
        Assert.That(sealedBlob.Id, Is.EqualTo(BlobId.Of(sealedBlob.Bytes)));
    }

    [Test]
    public void OversizedPlaintextIsRefused() =>
        Assert.That(() => BlobCipher.Seal(Key, new byte[1024 * 1024 + 1]), Throws.InstanceOf<ArgumentOutOfRangeException>());

    [Test]
    public void AmbiguousPaddingIsRefused()
    {
        var padded = BlobPadding.Pad("hello"u8);
        padded[^1] = 1;
        Assert.That(() => BlobPadding.Unpad(padded), Throws.InstanceOf<FormatException>().With.Message.Contains("non-zero"));
        padded = BlobPadding.Pad("hello"u8);
        BinaryPrimitives.WriteUInt32BigEndian(padded, 1025);
        Assert.That(() => BlobPadding.Unpad(padded), Throws.InstanceOf<FormatException>().With.Message.Contains("states"));
        Assert.That(() => BlobPadding.Unpad(new byte[1000]), Throws.InstanceOf<FormatException>().With.Message.Contains("size class"));
    }

    [Test]
    public void SealingTwiceGivesDifferentBytesButOneSealIsOneId()
    {
        var a = BlobCipher.Seal(Key, "same"u8);
        var b = BlobCipher.Seal(Key, "same"u8);
        Assert.That(a.Bytes, Is.Not.EqualTo(b.Bytes), "random nonce");
        Assert.That(a.Id, Is.Not.EqualTo(b.Id));
        Assert.That(BlobId.Of(a.Bytes.ToArray()), Is.EqualTo(a.Id), "identical bytes, identical id on every mailbox");
    }

    [Test]
    public void EveryTamperedRegionFailsToOpen()
    {
        var plaintext = "the marker 7f3a"u8.ToArray();
        var sealedBlob = BlobCipher.Seal(Key, plaintext).Bytes;
        // version byte, nonce, first ciphertext byte (length header), a padding byte, the tag.
        foreach (var offset in new[] { 0, 1, 24, 25, 30, 500, sealedBlob.Length - 16, sealedBlob.Length - 1 })
        {
            var copy = sealedBlob.ToArray();
            copy[offset] ^= 0x01;
            Assert.That(() => BlobCipher.Open(Key, copy), Throws.InstanceOf<BlobFormatException>(), $"offset {offset}");
        }
        Assert.That(() => BlobCipher.Open(Key, sealedBlob.AsSpan(0, sealedBlob.Length - 1)), Throws.InstanceOf<BlobFormatException>().With.Message.Contains("size class"));
        Assert.That(() => BlobCipher.Open(Key, [.. sealedBlob, 0]), Throws.InstanceOf<BlobFormatException>());
        Assert.That(() => BlobCipher.Open(Key, sealedBlob.AsSpan(0, 20)), Throws.InstanceOf<BlobFormatException>().With.Message.Contains("truncated"));
        Assert.That(() => BlobCipher.Open(RandomNumberGenerator.GetBytes(32), sealedBlob), Throws.InstanceOf<BlobFormatException>().With.Message.Contains("authentication"));
        Assert.That(BlobCipher.Open(Key, sealedBlob), Is.EqualTo(plaintext));
    }

    [Test]
    public void KnownNonceSealIsDeterministicAndHidesThePlaintext()
    {
        var nonce = new byte[24];
        var a = BlobCipher.SealWithNonce(Key, nonce, "marker-marker"u8);
        var b = BlobCipher.SealWithNonce(Key, nonce, "marker-marker"u8);
        Assert.That(a.Bytes, Is.EqualTo(b.Bytes));
        Assert.That(a.Bytes.AsSpan().IndexOf("marker"u8), Is.EqualTo(-1));
    }

    private static byte[] Hex(JsonElement test, string name) => Convert.FromHexString(test.GetProperty(name).GetString()!);
}
