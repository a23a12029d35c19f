namespace KontinuumP2P.Certs.Encoding;

/// <summary>A trust document, key file or share could not be read; the message names the problem.</summary>
public sealed class TrustFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public TrustFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public TrustFormatException(string message, Exception inner) : base(message, inner)
    {
    }
}
