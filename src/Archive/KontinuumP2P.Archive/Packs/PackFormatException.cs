namespace KontinuumP2P.Archive.Packs;

/// <summary>A pack or manifest that is truncated, corrupted, too large, or sealed under another key.</summary>
public sealed class PackFormatException : Exception
{
    /// <summary>Creates the exception with a message naming what is wrong.</summary>
    public PackFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public PackFormatException()
    {
    }

    /// <summary>Creates the exception with an inner exception.</summary>
    public PackFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
