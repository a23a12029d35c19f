using KontinuumP2P.Certs.Mnemonics;
using NBitcoin;

namespace KontinuumP2P.Certs.Tests.Mnemonics;

/// <summary>Our BIP-0039 against NBitcoin's <see cref="Mnemonic"/> on random inputs beyond the 24 reference vectors.
/// NBitcoin is a test-only oracle: docs/trust.md §7 gives the measurements behind keeping our own code in Certs.</summary>
[TestFixture]
public sealed class Bip39OracleTests
{
    [Test]
    public void WordlistIsTheSameAsNBitcoins() =>
        Assert.That(Bip39Wordlist.English.Words, Is.EqualTo(Wordlist.English.GetWords()));

    [Test]
    public void PhrasesAndEntropyAgreeForEveryLength([Values(16, 20, 24, 28, 32)] int entropyLength)
    {
        var random = new Random(entropyLength);
        for (var trial = 0; trial < 300; trial++)
        {
            var entropy = new byte[entropyLength];
            random.NextBytes(entropy);
            var ours = Bip39.FromEntropy(entropy);
            var theirs = new Mnemonic(Wordlist.English, entropy);
            Assert.That(ours, Is.EqualTo(theirs.ToString()), $"trial {trial}");
            Assert.That(Bip39.ToEntropy(theirs.ToString()), Is.EqualTo(entropy), $"trial {trial}");
        }
    }

    [Test]
    public void SeedsAgreeWithAndWithoutUnicodePassphrases()
    {
        var random = new Random(39);
        string[] passphrases = ["", "TREZOR", "caf\u00e9", "cafe\u0301", "\u30d1\u30b9\u30ef\u30fc\u30c9", "\uff21\u2460 ligature \ufb01"];
        for (var trial = 0; trial < 24; trial++)
        {
            var entropy = new byte[16 + 4 * (trial % 5)];
            random.NextBytes(entropy);
            var phrase = Bip39.FromEntropy(entropy);
            var passphrase = passphrases[trial % passphrases.Length];
            Assert.That(Bip39.ToSeed(phrase, passphrase), Is.EqualTo(new Mnemonic(phrase, Wordlist.English).DeriveSeed(passphrase)),
                $"trial {trial}, passphrase \"{passphrase}\"");
        }
    }

    [Test]
    public void BothRejectABadChecksum()
    {
        const string phrase = "legal winner thank year wave sausage worth useful legal winner thank thank";
        Assert.That(Bip39.IsValid(phrase, out _), Is.False);
        Assert.That(new Mnemonic(phrase, Wordlist.English).IsValidChecksum, Is.False);
    }
}
