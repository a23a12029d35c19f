namespace KontinuumP2P.Dht.Records;

/// <summary>A DHT value record.</summary>
/// <param name="Key">The record key, e.g. the UTF-8 bytes of <c>/pk/&lt;multihash&gt;</c>.</param>
/// <param name="Value">The value bytes.</param>
/// <param name="TimeReceived">When the holder received it (set by the storing node).</param>
public sealed record DhtRecord(ReadOnlyMemory<byte> Key, ReadOnlyMemory<byte> Value, DateTimeOffset? TimeReceived);
