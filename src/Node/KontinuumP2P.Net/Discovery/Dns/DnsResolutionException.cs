namespace KontinuumP2P.Net.Discovery.Dns;

/// <summary>No DNS server gave a usable answer (timeouts, SERVFAIL, REFUSED, malformed replies).</summary>
public sealed class DnsResolutionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DnsResolutionException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public DnsResolutionException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception without a message.</summary>
    public DnsResolutionException() : base("DNS resolution failed")
    {
    }
}
