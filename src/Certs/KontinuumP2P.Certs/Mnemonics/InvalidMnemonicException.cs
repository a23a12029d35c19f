namespace KontinuumP2P.Certs.Mnemonics;

/// <summary>Thrown for a phrase that is not a valid BIP-0039 mnemonic; the message names the problem.</summary>
public sealed class InvalidMnemonicException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public InvalidMnemonicException(MnemonicError error, string message) : base(message) => Error = error;

    /// <summary>Which rule the phrase broke.</summary>
    public MnemonicError Error { get; }
}
