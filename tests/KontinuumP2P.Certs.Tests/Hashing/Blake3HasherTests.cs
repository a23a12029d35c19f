using KontinuumP2P.Certs.Hashing;

namespace KontinuumP2P.Certs.Tests.Hashing;

/// <summary>Behaviour of the incremental hasher and agreement of its paths on inputs beyond the vectors.</summary>
[TestFixture]
public sealed class Blake3HasherTests
{
    private static byte[] RandomInput(int length, int seed)
    {
        var input = new byte[length];
        new Random(seed).NextBytes(input);
        return input;
    }

    [Test]
    public void SplitUpdatesAgreeWithOneShotOnLargeOddInputs()
    {
        // Lengths around SIMD batch edges and beyond the largest official vector (102,400 bytes); the one-shot path
        // and the incremental path are separate code in the package.
        foreach (var length in new[] { 4 * 1024 + 1, 8 * 1024 + 1, 16 * 1024 + 1, 17 * 1024, 64 * 1024 + 1, 65 * 1024 + 3, 1 << 20, (1 << 20) + 12345, 3 * (1 << 20) - 1 })
        {
            var input = RandomInput(length, length);
            var hasher = new Blake3Hasher();
            // An odd first piece leaves later batches starting at chunk counters that are not multiples of 16.
            var split = Math.Min(5 * 1024 + 1, length / 2);
            hasher.Update(input.AsSpan(0, split));
            hasher.Update(input.AsSpan(split));
            Assert.That(hasher.FinalizeToArray(), Is.EqualTo(Blake3.Hash(input)), $"length {length}");
        }
    }

    [Test]
    public void FinalizeDoesNotConsumeTheState()
    {
        var input = RandomInput(5000, 1);
        var hasher = new Blake3Hasher();
        hasher.Update(input.AsSpan(0, 2000));
        Assert.That(hasher.FinalizeToArray(), Is.EqualTo(Blake3.Hash(input.AsSpan(0, 2000))));
        hasher.Update(input.AsSpan(2000));
        Assert.That(hasher.FinalizeToArray(), Is.EqualTo(Blake3.Hash(input)));
    }

    [Test]
    public void ResetForgetsInputButKeepsTheKey()
    {
        var key = RandomInput(32, 2);
        var hasher = Blake3Hasher.CreateKeyed(key);
        hasher.Update(RandomInput(3000, 3));
        hasher.Reset();
        hasher.Update("abc"u8);
        Assert.That(hasher.FinalizeToArray(), Is.EqualTo(Blake3.KeyedHash(key, "abc"u8)));
    }

    [Test]
    public void UpdateAndFinalizeDoNotAllocate()
    {
        // Valid in Debug too: the hashing code is the package's optimised build; this assembly only forwards.
        var input = RandomInput(300_000, 4);
        var hasher = new Blake3Hasher();
        Span<byte> hash = stackalloc byte[32];
        hasher.Update(input); // warm up the JIT
        hasher.Finalize(hash);
        hasher.FinalizeXof(hash, 1000);
        // Tier-up of hot methods can allocate once on this thread mid-measurement; an allocation per call would show
        // in every attempt, so the best of a few attempts must be zero.
        var fewest = long.MaxValue;
        for (var attempt = 0; attempt < 5 && fewest != 0; attempt++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 20; i++) hasher.Update(input.AsSpan(i, input.Length - 2 * i));
            hasher.Finalize(hash);
            hasher.FinalizeXof(hash, 1000);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.That(fewest, Is.Zero);
    }

    [Test]
    public void KeyOfWrongLengthIsRejected()
    {
        Assert.That(() => Blake3Hasher.CreateKeyed(new byte[31]), Throws.ArgumentException);
        Assert.That(() => Blake3.KeyedHash(new byte[33], "x"u8), Throws.ArgumentException);
    }

    [Test]
    public async Task HashStreamAsyncMatchesOneShot()
    {
        foreach (var length in new[] { 0, 1, 1024, 1025, Blake3.StreamBufferSize, Blake3.StreamBufferSize * 3 + 17 })
        {
            var input = RandomInput(length, length);
            using var stream = new MemoryStream(input);
            Assert.That(await Blake3.HashStreamAsync(stream, CancellationToken.None), Is.EqualTo(Blake3.Hash(input)), $"length {length}");
        }
    }

    [Test]
    public void HashStreamAsyncHonoursCancellation()
    {
        using var stream = new MemoryStream(new byte[1000]);
        Assert.That(async () => await Blake3.HashStreamAsync(stream, new CancellationToken(true)),
            Throws.InstanceOf<OperationCanceledException>());
    }
}
