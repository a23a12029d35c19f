using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht.Records;

/// <summary>
/// Collects the valid answers of a GET and keeps the best by the namespace selector. Sans-I/O; one instance per GET,
/// used from one thread.
/// </summary>
internal sealed class ValueCollector(ReadOnlyMemory<byte> key, RecordValidators validators, PeerId localPeer)
{
    private readonly List<DhtRecord> _values = [];
    private readonly Dictionary<PeerId, int> _answers = [];
    private readonly HashSet<PeerId> _withoutValue = [];
    private int _best = -1;

    /// <summary>The best record so far.</summary>
    public DhtRecord? Best => _best < 0 ? null : _values[_best];

    /// <summary>Valid answers from the network (our own copy excluded).</summary>
    public int NetworkAnswers => _answers.Count - (_answers.ContainsKey(localPeer) ? 1 : 0);

    /// <summary>Adds a valid answer; returns the new best-so-far view when it changed or gained a holder.</summary>
    public DhtValue? Offer(PeerId from, DhtRecord record)
    {
        if (_answers.ContainsKey(from)) return null;
        var index = _values.FindIndex(v => v.Value.Span.SequenceEqual(record.Value.Span));
        if (index < 0)
        {
            _values.Add(record);
            index = _values.Count - 1;
        }
        _answers[from] = index;
        var best = validators.Select(key, [.. _values.Select(v => v.Value)]);
        if (best != _best || index == best)
        {
            _best = best;
            return new DhtValue(_values[best], Holders(best), _answers.Count);
        }
        return null;
    }

    /// <summary>Notes a peer that answered without a (valid) value.</summary>
    public void NoValue(PeerId from) => _withoutValue.Add(from);

    /// <summary>Peers that answered with a value other than the best.</summary>
    public IEnumerable<PeerId> WorseHolders() => _answers.Where(a => a.Value != _best).Select(a => a.Key);

    /// <summary>Whether <paramref name="peer"/> answered without a value.</summary>
    public bool AnsweredWithoutValue(PeerId peer) => _withoutValue.Contains(peer);

    private List<PeerId> Holders(int index) => [.. _answers.Where(a => a.Value == index).Select(a => a.Key)];
}
