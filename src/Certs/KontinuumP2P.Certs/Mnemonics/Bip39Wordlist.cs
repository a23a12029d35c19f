using System.Collections.Frozen;

namespace KontinuumP2P.Certs.Mnemonics;

/// <summary>A BIP-0039 wordlist: 2048 words, index = 11-bit value. Only the English list ships (embedded resource).</summary>
public sealed class Bip39Wordlist
{
    /// <summary>Name of the embedded resource holding the English list, one word per line.</summary>
    internal const string EnglishResourceName = "KontinuumP2P.Certs.Mnemonics.english.txt";

    /// <summary>Number of words in every BIP-0039 list.</summary>
    public const int WordCount = 2048;

    private static readonly Lazy<Bip39Wordlist> LazyEnglish = new(LoadEnglish);

    private readonly string[] _words;
    private readonly FrozenDictionary<string, int> _indexByWord;

    private Bip39Wordlist(string[] words)
    {
        _words = words;
        _indexByWord = words.Select((word, index) => (word, index)).ToFrozenDictionary(p => p.word, p => p.index, StringComparer.Ordinal);
    }

    /// <summary>The normative English list.</summary>
    public static Bip39Wordlist English => LazyEnglish.Value;

    /// <summary>The words in index order.</summary>
    public IReadOnlyList<string> Words => _words;

    /// <summary>The word for an 11-bit index.</summary>
    public string this[int index] => _words[index];

    /// <summary>Looks up a word (exact, lower-case match).</summary>
    public bool TryGetIndex(string word, out int index) => _indexByWord.TryGetValue(word, out index);

    /// <summary>The raw bytes of the embedded English list, exactly as shipped.</summary>
    internal static byte[] ReadEnglishResource()
    {
        using var stream = typeof(Bip39Wordlist).Assembly.GetManifestResourceStream(EnglishResourceName)
            ?? throw new InvalidOperationException($"embedded resource {EnglishResourceName} is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static Bip39Wordlist LoadEnglish()
    {
        var text = System.Text.Encoding.UTF8.GetString(ReadEnglishResource());
        var words = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length != WordCount)
            throw new InvalidOperationException($"the embedded BIP-0039 list has {words.Length} words, expected {WordCount}");
        return new Bip39Wordlist(words);
    }
}
