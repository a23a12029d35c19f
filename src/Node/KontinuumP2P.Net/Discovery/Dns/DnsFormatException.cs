namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>A DNS message that is malformed or breaks one of the codec's bounds.</summary>
public sealed class DnsFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DnsFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public DnsFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception without a message.</summary>
    public DnsFormatException() : base("malformed DNS message")
    {
    }
}
