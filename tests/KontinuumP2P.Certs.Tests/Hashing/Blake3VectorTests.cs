using System.Text.Json;
using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Certs.Tests.Hashing;

/// <summary>Every case of the official BLAKE3 test vectors, through the one-shot API and the incremental hasher.</summary>
[TestFixture]
public sealed class Blake3VectorTests
{
    private sealed record VectorCase(int InputLength, byte[] Hash, byte[] KeyedHash, byte[] DeriveKey);

    private static readonly Lazy<(byte[] Key, string Context, VectorCase[] Cases)> Vectors = new(Load);

    private static (byte[] Key, string Context, VectorCase[] Cases) Load()
    {
        using var json = SharedVectors.LoadJson("blake3_test_vectors.json");
        var root = json.RootElement;
        var cases = root.GetProperty("cases").EnumerateArray().Select(c => new VectorCase(
            c.GetProperty("input_len").GetInt32(),
            Convert.FromHexString(c.GetProperty("hash").GetString()!),
            Convert.FromHexString(c.GetProperty("keyed_hash").GetString()!),
            Convert.FromHexString(c.GetProperty("derive_key").GetString()!))).ToArray();
        return (System.Text.Encoding.ASCII.GetBytes(root.GetProperty("key").GetString()!), root.GetProperty("context_string").GetString()!, cases);
    }

    internal static byte[] VectorInput(int length)
    {
        var input = new byte[length];
        for (var i = 0; i < length; i++) input[i] = (byte)(i % 251);
        return input;
    }

    private static Blake3Hasher CreateHasher(string mode) => mode switch
    {
        "hash" => new Blake3Hasher(),
        "keyed_hash" => Blake3Hasher.CreateKeyed(Vectors.Value.Key),
        "derive_key" => Blake3Hasher.CreateDeriveKey(Vectors.Value.Context),
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    private static byte[] Expected(VectorCase c, string mode) => mode switch
    {
        "hash" => c.Hash,
        "keyed_hash" => c.KeyedHash,
        _ => c.DeriveKey,
    };

    [Test]
    public void VectorFileHasEveryMode()
    {
        Assert.That(Vectors.Value.Cases, Has.Length.GreaterThanOrEqualTo(35));
        Assert.That(Vectors.Value.Cases.Select(c => c.Hash.Length), Is.All.EqualTo(131));
    }

    [Test]
    public void OneShotApiMatchesEveryVector()
    {
        var (key, context, cases) = Vectors.Value;
        foreach (var c in cases)
        {
            var input = VectorInput(c.InputLength);
            Assert.That(Blake3.Hash(input), Is.EqualTo(c.Hash[..32]), $"hash, length {c.InputLength}");
            Assert.That(Blake3.KeyedHash(key, input), Is.EqualTo(c.KeyedHash[..32]), $"keyed, length {c.InputLength}");
            Assert.That(Blake3.DeriveKey(context, input), Is.EqualTo(c.DeriveKey[..32]), $"derive, length {c.InputLength}");
            var extended = new byte[c.Hash.Length];
            Blake3.Hash(input, extended);
            Assert.That(extended, Is.EqualTo(c.Hash), $"extended hash, length {c.InputLength}");
            Blake3.KeyedHash(key, input, extended);
            Assert.That(extended, Is.EqualTo(c.KeyedHash), $"extended keyed, length {c.InputLength}");
            Blake3.DeriveKey(context, input, extended);
            Assert.That(extended, Is.EqualTo(c.DeriveKey), $"extended derive, length {c.InputLength}");
        }
    }

    [Test]
    public void IncrementalHasherMatchesEveryVectorInOneUpdate([Values("hash", "keyed_hash", "derive_key")] string mode)
    {
        foreach (var c in Vectors.Value.Cases)
        {
            var hasher = CreateHasher(mode);
            hasher.Update(VectorInput(c.InputLength));
            var output = new byte[c.Hash.Length];
            hasher.FinalizeXof(output);
            Assert.That(output, Is.EqualTo(Expected(c, mode)), $"{mode}, length {c.InputLength}");
            Assert.That(hasher.FinalizeToArray(), Is.EqualTo(Expected(c, mode)[..32]), $"{mode} 32-byte, length {c.InputLength}");
        }
    }

    [Test]
    public void IncrementalHasherMatchesEveryVectorWithUnevenUpdates([Values("hash", "keyed_hash", "derive_key")] string mode)
    {
        int[] pieceSizes = [1, 63, 64, 65, 7, 1023, 1024, 1025, 3, 2048, 17, 4097, 129, 16384 + 5];
        foreach (var c in Vectors.Value.Cases)
        {
            var input = VectorInput(c.InputLength);
            var hasher = CreateHasher(mode);
            for (int offset = 0, piece = 0; offset < input.Length; piece++)
            {
                var take = Math.Min(pieceSizes[piece % pieceSizes.Length], input.Length - offset);
                hasher.Update(input.AsSpan(offset, take));
                offset += take;
            }
            var output = new byte[c.Hash.Length];
            hasher.Finalize(output);
            Assert.That(output, Is.EqualTo(Expected(c, mode)), $"{mode}, length {c.InputLength}");
        }
    }

    [Test]
    public void SeekingIntoExtendedOutputGivesTheMatchingSlice()
    {
        foreach (var c in Vectors.Value.Cases.Where(c => c.InputLength is 0 or 1 or 1025 or 8193 or 102400))
        {
            var hasher = new Blake3Hasher();
            hasher.Update(VectorInput(c.InputLength));
            foreach (var seek in new[] { 1, 31, 32, 63, 64, 65, 100 })
            {
                var output = new byte[c.Hash.Length - seek];
                hasher.FinalizeXof(output, (ulong)seek);
                Assert.That(output, Is.EqualTo(c.Hash[seek..]), $"length {c.InputLength}, seek {seek}");
            }
        }
    }
}
