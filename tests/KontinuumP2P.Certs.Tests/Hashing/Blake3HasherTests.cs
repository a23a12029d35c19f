using KontinuumP2P.Certs.Hashing;

namespace KontinuumP2P.Certs.Tests.Hashing;

/// <summary>Behaviour of the incremental hasher and agreement of all backends on inputs beyond the vectors.</summary>
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
    public void EveryBackendAgreesWithScalarOnLargeOddInputs([ValueSource(typeof(Blake3VectorTests), nameof(Blake3VectorTests.AllBackends))] string backendName)
    {
        var backend = Blake3VectorTests.RequireSupported(backendName);
        // Lengths around wide-batch edges: 16/8/4-chunk groups, the 64-chunk batch and unaligned counters.
        foreach (var length in new[] { 4 * 1024 + 1, 8 * 1024 + 1, 16 * 1024 + 1, 17 * 1024, 64 * 1024 + 1, 65 * 1024 + 3, 1 << 20, (1 << 20) + 12345, 3 * (1 << 20) - 1 })
        {
            var input = RandomInput(length, length);
            var reference = new Blake3Hasher(Blake3Backend.Scalar);
            reference.Update(input);
            var hasher = new Blake3Hasher(backend);
            // An odd first piece leaves the wide batches starting at counters that are not multiples of 64.
            var split = Math.Min(5 * 1024 + 1, length / 2);
            hasher.Update(input.AsSpan(0, split));
            hasher.Update(input.AsSpan(split));
            Assert.That(hasher.FinalizeToArray(), Is.EqualTo(reference.FinalizeToArray()), $"length {length}");
        }
    }

    [Test]
    public void WideKernelsCarryTheChunkCounterIntoItsHighWord([ValueSource(typeof(Blake3VectorTests), nameof(Blake3VectorTests.AllBackends))] string backendName)
    {
        var backend = Blake3VectorTests.RequireSupported(backendName);
        // Real inputs would need 4 TiB to reach this counter; the kernels take it directly.
        const ulong counter = (1ul << 32) - 5;
        var input = RandomInput(16 * 1024, 5);
        var key = new uint[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        var expected = new uint[16 * 8];
        var actual = new uint[16 * 8];
        Blake3Compressor.HashChunks(Blake3Backend.Scalar, input, 16, key, counter, 0, expected);
        Blake3Compressor.HashChunks(backend, input, 16, key, counter, 0, actual);
        Assert.That(actual, Is.EqualTo(expected));
        var expectedParents = new uint[8 * 8];
        var actualParents = new uint[8 * 8];
        Blake3Compressor.HashParents(Blake3Backend.Scalar, expected, 8, key, 0, expectedParents);
        Blake3Compressor.HashParents(backend, actual, 8, key, 0, actualParents);
        Assert.That(actualParents, Is.EqualTo(expectedParents));
    }

    [Test]
    public void VectorSingleBlockCompressionMatchesScalarWithBothMessageLoaders()
    {
        if (!Blake3Vector128.IsSupported) Assert.Ignore("no Vector128 hardware acceleration");
        var random = new Random(7);
        var block = new byte[64];
        var cv = new uint[8];
        for (var trial = 0; trial < 200; trial++)
        {
            random.NextBytes(block);
            for (var i = 0; i < 8; i++) cv[i] = (uint)random.NextInt64();
            var counter = (ulong)random.NextInt64();
            var flags = (uint)random.Next(128);
            var expected = new uint[16];
            Blake3Scalar.Compress(cv, block, counter, 64, flags, expected);
            foreach (var permute in new[] { true, false })
            {
                var actual = new uint[16];
                Blake3Vector128.Compress(cv, block, counter, 64, flags, actual, permute);
                Assert.That(actual, Is.EqualTo(expected), $"trial {trial}, permute512 {permute}");
            }
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
    public void UpdateDoesNotAllocate()
    {
        // Unoptimised (Debug) JIT code may box vector temporaries; the guarantee is for optimised code.
        var debuggable = typeof(Blake3Hasher).Assembly.GetCustomAttributes(typeof(System.Diagnostics.DebuggableAttribute), false)
            .OfType<System.Diagnostics.DebuggableAttribute>().FirstOrDefault();
        if (debuggable?.IsJITOptimizerDisabled == true) Assert.Ignore("run with -c Release: Debug builds are not optimised");
        var input = RandomInput(300_000, 4);
        var hasher = new Blake3Hasher();
        hasher.Update(input); // warm up the JIT
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++) hasher.Update(input.AsSpan(i, input.Length - 2 * i));
        Span<byte> hash = stackalloc byte[32];
        hasher.Finalize(hash);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
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
