namespace KontinuumP2P.Net.Transports;

/// <summary>Byte counters of a raw connection, read by the host's metrics.</summary>
public interface ITransportStatistics
{
    /// <summary>Bytes received from the network so far.</summary>
    long BytesReceived { get; }

    /// <summary>Bytes handed to the network so far.</summary>
    long BytesSent { get; }
}
