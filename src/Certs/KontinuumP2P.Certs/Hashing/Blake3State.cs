using System.Numerics;
using System.Runtime.CompilerServices;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>The whole incremental BLAKE3 state as one value type with inline buffers, so one-shot hashing lives on
/// the stack and <see cref="Blake3Hasher"/> never allocates after construction.</summary>
/// <remarks>Tree rule: a chunk's (or aligned subtree's) chaining value is pushed only when more input is known to
/// follow, so it can never be the root; it is merged eagerly with every completed sibling left on the stack
/// (the number of stack entries equals the popcount of the chunks so far). Finalisation folds the stack onto the
/// last chunk, giving the final node the ROOT flag.</remarks>
internal struct Blake3State
{
    /// <summary>Largest aligned subtree, in chunks, hashed in one wide batch (64 KiB of input).</summary>
    private const int MaxBatchChunks = 64;

    private Words8 _key;
    private Words8 _chunkCv;
    private BlockBytes _block;
    private CvStack _stack;
    private ulong _chunkCounter;
    private int _blockLength;
    private int _blocksCompressed;
    private int _stackLength;
    private readonly uint _flags;
    private readonly Blake3Backend _backend;

    public Blake3State(ReadOnlySpan<uint> key, uint flags, Blake3Backend backend)
    {
        key[..8].CopyTo(_key);
        _flags = flags;
        _backend = backend;
        Reset();
    }

    /// <summary>Back to the state after construction (same key and mode).</summary>
    public void Reset()
    {
        ((ReadOnlySpan<uint>)_key).CopyTo(_chunkCv);
        _chunkCounter = 0;
        _blockLength = 0;
        _blocksCompressed = 0;
        _stackLength = 0;
    }

    private readonly int ChunkBytes => _blocksCompressed * BlockLength + _blockLength;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public void Update(ReadOnlySpan<byte> input)
    {
        Span<uint> cv = stackalloc uint[8];
        while (!input.IsEmpty)
        {
            if (ChunkBytes == ChunkLength)
            {
                // A full chunk followed by more input is not the root: finish it.
                Blake3Compressor.CompressBlock(_backend, _chunkCv, _block, _chunkCounter, BlockLength,
                    _flags | ChunkEnd | StartFlag(), cv);
                PushSubtree(cv, 1);
                StartNextChunk(1);
            }

            if (ChunkBytes == 0 && input.Length > ChunkLength)
            {
                input = HashWholeChunks(input);
                continue;
            }

            var take = Math.Min(ChunkLength - ChunkBytes, input.Length);
            UpdateChunk(input[..take]);
            input = input[take..];
        }
    }

    /// <summary>Hashes aligned power-of-two runs of whole chunks with the wide kernels, leaving at least one
    /// byte so the last chunk goes through the chunk state (it may be the root).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private ReadOnlySpan<byte> HashWholeChunks(ReadOnlySpan<byte> input)
    {
        Span<uint> cvs = stackalloc uint[MaxBatchChunks * 8];
        Span<uint> parents = stackalloc uint[MaxBatchChunks / 2 * 8];
        var available = (input.Length - 1) / ChunkLength;
        while (available > 0)
        {
            var count = Math.Min(MaxBatchChunks, 1 << BitOperations.Log2((uint)available));
            // A subtree must start at a multiple of its own size to be a node of the BLAKE3 tree.
            while (count > 1 && (_chunkCounter & (ulong)(count - 1)) != 0) count >>= 1;
            Blake3Compressor.HashChunks(_backend, input[..(count * ChunkLength)], count, _key, _chunkCounter, _flags, cvs);
            for (var level = count; level > 1; level >>= 1)
            {
                Blake3Compressor.HashParents(_backend, cvs[..(level * 8)], level / 2, _key, _flags, parents);
                parents[..(level / 2 * 8)].CopyTo(cvs);
            }
            PushSubtree(cvs[..8], count);
            _chunkCounter += (ulong)count;
            input = input[(count * ChunkLength)..];
            available -= count;
        }
        return input;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private void UpdateChunk(ReadOnlySpan<byte> input)
    {
        while (!input.IsEmpty)
        {
            if (_blockLength == BlockLength)
            {
                Blake3Compressor.CompressBlock(_backend, _chunkCv, _block, _chunkCounter, BlockLength,
                    _flags | StartFlag(), _chunkCv);
                _blocksCompressed++;
                _blockLength = 0;
            }
            // Compress straight from the input while a later byte proves this block is not the chunk's last.
            while (_blockLength == 0 && input.Length > BlockLength)
            {
                Blake3Compressor.CompressBlock(_backend, _chunkCv, input[..BlockLength], _chunkCounter, BlockLength,
                    _flags | StartFlag(), _chunkCv);
                _blocksCompressed++;
                input = input[BlockLength..];
            }
            var take = Math.Min(BlockLength - _blockLength, input.Length);
            input[..take].CopyTo(((Span<byte>)_block)[_blockLength..]);
            _blockLength += take;
            input = input[take..];
        }
    }

    private readonly uint StartFlag() => _blocksCompressed == 0 ? ChunkStart : 0;

    private void StartNextChunk(int chunks)
    {
        ((ReadOnlySpan<uint>)_key).CopyTo(_chunkCv);
        _chunkCounter += (ulong)chunks;
        _blockLength = 0;
        _blocksCompressed = 0;
    }

    /// <summary>Pushes the chaining value of the aligned subtree of <paramref name="chunks"/> (a power of two)
    /// chunks that starts at the current counter, merging completed siblings.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    private void PushSubtree(ReadOnlySpan<uint> subtreeCv, int chunks)
    {
        Span<uint> node = stackalloc uint[16];
        subtreeCv[..8].CopyTo(node[8..]);
        var total = (_chunkCounter + (ulong)chunks) >> BitOperations.Log2((uint)chunks);
        while ((total & 1) == 0)
        {
            _stackLength--;
            ((Span<uint>)_stack).Slice(_stackLength * 8, 8).CopyTo(node);
            Blake3Compressor.CompressParent(_backend, node, _key, _flags, node[8..]);
            total >>= 1;
        }
        node[8..].CopyTo(((Span<uint>)_stack).Slice(_stackLength * 8, 8));
        _stackLength++;
    }

    /// <summary>Writes output bytes starting at byte <paramref name="seek"/> of the extended output; the state is
    /// unchanged, so more input may follow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip tier-0 code
    public readonly void Finalize(Span<byte> output, ulong seek)
    {
        var root = new Blake3OutputNode(_backend, _chunkCv, ((ReadOnlySpan<byte>)_block)[.._blockLength], _chunkCounter,
            _flags | ChunkEnd | StartFlag());

        Span<uint> children = stackalloc uint[16];
        for (var i = _stackLength - 1; i >= 0; i--)
        {
            ((ReadOnlySpan<uint>)_stack).Slice(i * 8, 8).CopyTo(children);
            root.ChainingValue(children[8..]);
            root.SetParent(children, _key, _flags);
        }
        root.WriteRootBytes(output, seek);
    }

    [InlineArray(8)]
    private struct Words8
    {
        private uint _element;
    }

    [InlineArray(BlockLength)]
    private struct BlockBytes
    {
        private byte _element;
    }

    [InlineArray(MaxTreeDepth * 8)]
    private struct CvStack
    {
        private uint _element;
    }
}
