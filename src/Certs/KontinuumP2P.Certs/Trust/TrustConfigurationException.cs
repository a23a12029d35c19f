namespace KontinuumP2P.Certs.Trust;

/// <summary>An anchor set or trust configuration is unusable (threshold 0, threshold above the key count, duplicate keys …).</summary>
public sealed class TrustConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrustConfigurationException(string message) : base(message)
    {
    }
}
