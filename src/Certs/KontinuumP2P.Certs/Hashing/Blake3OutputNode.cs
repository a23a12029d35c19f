using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using static KontinuumP2P.Certs.Hashing.Blake3Constants;

namespace KontinuumP2P.Certs.Hashing;

/// <summary>A node whose compression has not been run yet: either its chaining value is taken (non-root) or,
/// with the ROOT flag and successive counters, its extended output.</summary>
internal ref struct Blake3OutputNode
{
    private Words8 _inputCv;
    private BlockBytes _block;
    private readonly Blake3Backend _backend;

    private ulong _counter;
    private uint _blockLength;
    private uint _flags;

    /// <summary>A node for <paramref name="block"/> (up to 64 bytes, zero-padded here as the specification requires).</summary>
    public Blake3OutputNode(Blake3Backend backend, ReadOnlySpan<uint> inputCv, ReadOnlySpan<byte> block, ulong counter,
        uint flags)
    {
        _backend = backend;
        inputCv[..8].CopyTo(_inputCv);
        block.CopyTo(_block);
        _counter = counter;
        _blockLength = (uint)block.Length;
        _flags = flags;
    }

    public readonly void ChainingValue(Span<uint> cv)
    {
        Blake3Compressor.CompressBlock(_backend, _inputCv, _block, _counter, _blockLength, _flags, cv);
    }

    /// <summary>Turns this node into the parent of the 16 words <paramref name="children"/>.</summary>
    public void SetParent(ReadOnlySpan<uint> children, ReadOnlySpan<uint> key, uint flags)
    {
        key[..8].CopyTo(_inputCv);
        Span<byte> block = _block;
        for (var i = 0; i < 16; i++) BinaryPrimitives.WriteUInt32LittleEndian(block[(4 * i)..], children[i]);
        _counter = 0;
        _blockLength = BlockLength;
        _flags = flags | Parent;
    }

    public readonly void WriteRootBytes(Span<byte> output, ulong seek)
    {
        Span<uint> words = stackalloc uint[16];
        Span<byte> bytes = stackalloc byte[BlockLength];
        var blockCounter = seek / BlockLength;
        var offset = (int)(seek % BlockLength);
        while (!output.IsEmpty)
        {
            Blake3Compressor.CompressBlock(_backend, _inputCv, _block, blockCounter, _blockLength, _flags | Root, words);
            for (var i = 0; i < 16; i++) BinaryPrimitives.WriteUInt32LittleEndian(bytes[(4 * i)..], words[i]);
            var take = Math.Min(BlockLength - offset, output.Length);
            bytes.Slice(offset, take).CopyTo(output);
            output = output[take..];
            offset = 0;
            blockCounter++;
        }
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
}
