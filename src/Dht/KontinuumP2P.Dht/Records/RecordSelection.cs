using System.Security.Cryptography;

namespace KontinuumP2P.Dht.Records;

/// <summary>Deterministic choice between records, shared by validators.</summary>
public static class RecordSelection
{
    /// <summary>
    /// Index of the value whose rank is highest; equal ranks go to the value with the lexicographically smallest
    /// SHA-256, so every node picks the same record whatever order the answers came in.
    /// </summary>
    public static int BestBy<TRank>(IReadOnlyList<ReadOnlyMemory<byte>> values, Func<ReadOnlyMemory<byte>, TRank> rank)
        where TRank : IComparable<TRank>
    {
        ArgumentOutOfRangeException.ThrowIfZero(values.Count, nameof(values));
        var best = 0;
        var bestRank = rank(values[0]);
        for (var i = 1; i < values.Count; i++)
        {
            var r = rank(values[i]);
            var order = r.CompareTo(bestRank);
            if (order > 0 || (order == 0 && TieBreak(values[i].Span, values[best].Span) < 0))
            {
                best = i;
                bestRank = r;
            }
        }
        return best;
    }

    /// <summary>Orders two equally ranked values by SHA-256 (negative when <paramref name="a"/> wins).</summary>
    public static int TieBreak(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        Span<byte> ha = stackalloc byte[32];
        Span<byte> hb = stackalloc byte[32];
        SHA256.HashData(a, ha);
        SHA256.HashData(b, hb);
        return ha.SequenceCompareTo(hb);
    }
}
