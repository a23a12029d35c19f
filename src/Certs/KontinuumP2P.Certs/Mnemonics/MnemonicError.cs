namespace KontinuumP2P.Certs.Mnemonics;

/// <summary>Why a phrase is not a valid BIP-0039 mnemonic.</summary>
public enum MnemonicError
{
    /// <summary>The phrase does not have 12, 15, 18, 21 or 24 words.</summary>
    WrongWordCount,

    /// <summary>A word is not in the wordlist.</summary>
    UnknownWord,

    /// <summary>All words are known but the checksum bits do not match the entropy bits.</summary>
    BadChecksum,
}
