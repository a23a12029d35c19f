using System.Security.Cryptography;
using KontinuumP2P.Certs.Mnemonics;
using KontinuumP2P.Testing;

namespace KontinuumP2P.Certs.Tests.Mnemonics;

/// <summary>BIP-0039 against the Trezor reference vectors and the normative wordlist.</summary>
[TestFixture]
public sealed class Bip39Tests
{
    private const string VectorPassphrase = "TREZOR";

    public static IEnumerable<TestCaseData> EnglishVectors()
    {
        using var json = SharedVectors.LoadJson("bip39_vectors.json");
        var index = 0;
        foreach (var vector in json.RootElement.GetProperty("english").EnumerateArray())
        {
            var fields = vector.EnumerateArray().Select(e => e.GetString()!).ToArray();
            yield return new TestCaseData(fields[0], fields[1], fields[2]).SetName($"English vector {index++:00}");
        }
    }

    [Test]
    public void ThereAreTwentyFourEnglishVectors() => Assert.That(EnglishVectors().Count(), Is.EqualTo(24));

    [Test]
    public void EmbeddedWordlistIsTheNormativeList()
    {
        var embedded = Bip39Wordlist.ReadEnglishResource();
        Assert.That(Convert.ToHexStringLower(SHA256.HashData(embedded)),
            Is.EqualTo("2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"));
        Assert.That(embedded, Is.EqualTo(File.ReadAllBytes(SharedVectors.PathOf("bip39_english.txt"))));
        Assert.That(Bip39Wordlist.English.Words, Has.Count.EqualTo(2048));
        Assert.That(Bip39Wordlist.English.TryGetIndex("zoo", out var zoo) && zoo == 2047, Is.True);
    }

    [TestCaseSource(nameof(EnglishVectors))]
    public void EntropyGivesTheVectorPhraseAndBack(string entropyHex, string mnemonic, string seedHex)
    {
        var entropy = Convert.FromHexString(entropyHex);
        Assert.That(Bip39.FromEntropy(entropy), Is.EqualTo(mnemonic));
        Assert.That(Bip39.ToEntropy(mnemonic), Is.EqualTo(entropy));
        Assert.That(Bip39.IsValid(mnemonic, out var problem), Is.True, problem?.Message);
    }

    [TestCaseSource(nameof(EnglishVectors))]
    public void PhraseAndPassphraseGiveTheVectorSeed(string entropyHex, string mnemonic, string seedHex) =>
        Assert.That(Bip39.ToSeed(mnemonic, VectorPassphrase), Is.EqualTo(Convert.FromHexString(seedHex)));

    [Test]
    public void GeneratedPhrasesAreValidAndDistinct([Values(12, 15, 18, 21, 24)] int wordCount)
    {
        var first = Bip39.Generate(wordCount);
        var second = Bip39.Generate(wordCount);
        Assert.That(first.Split(' '), Has.Length.EqualTo(wordCount));
        Assert.That(Bip39.ToEntropy(first), Has.Length.EqualTo(wordCount * 11 * 32 / 33 / 8));
        Assert.That(Bip39.IsValid(second, out _), Is.True);
        Assert.That(first, Is.Not.EqualTo(second));
    }

    [Test]
    public void GenerateRejectsOtherWordCounts() =>
        Assert.That(() => Bip39.Generate(13), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void FromEntropyRejectsOtherLengths() =>
        Assert.That(() => Bip39.FromEntropy(new byte[17]), Throws.ArgumentException);

    [TestCase("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon", MnemonicError.WrongWordCount, "11")]
    [TestCase("", MnemonicError.WrongWordCount, "0")]
    [TestCase("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", MnemonicError.WrongWordCount, "13")]
    [TestCase("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandonn about", MnemonicError.UnknownWord, "abandonn")]
    [TestCase("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon", MnemonicError.BadChecksum, "checksum")]
    [TestCase("legal winner thank year wave sausage worth useful legal winner thank thank", MnemonicError.BadChecksum, "checksum")]
    public void InvalidPhrasesAreRejectedWithTheReason(string mnemonic, MnemonicError error, string messagePart)
    {
        var thrown = Assert.Throws<InvalidMnemonicException>(() => Bip39.ToEntropy(mnemonic));
        Assert.That(thrown!.Error, Is.EqualTo(error));
        Assert.That(thrown.Message, Does.Contain(messagePart));
        Assert.That(Bip39.IsValid(mnemonic, out var problem), Is.False);
        Assert.That(problem?.Error, Is.EqualTo(error));
        Assert.That(() => Bip39.ToSeed(mnemonic), Throws.TypeOf<InvalidMnemonicException>());
    }

    [Test]
    public void PhraseIsNormalisedBeforeSeeding()
    {
        const string canonical = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        var messy = "  ABANDON abandon\tabandon abandon abandon abandon abandon abandon abandon abandon abandon  about\n";
        Assert.That(Bip39.ToSeed(messy, "pass"), Is.EqualTo(Bip39.ToSeed(canonical, "pass")));
        // NFKD: a precomposed é and e + combining acute are the same passphrase.
        Assert.That(Bip39.ToSeed(canonical, "caf\u00e9"), Is.EqualTo(Bip39.ToSeed(canonical, "cafe\u0301")));
        Assert.That(Bip39.ToSeed(canonical, "cafe"), Is.Not.EqualTo(Bip39.ToSeed(canonical, "caf\u00e9")));
    }
}
