using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Dht.Storage;

namespace KontinuumP2P.Node.Records;

/// <summary>The DHT store bounds of a Kontinuum node: the defaults, with room for a full CRL in <c>/crl/</c>.</summary>
public static class KontinuumStoreLimits
{
    /// <summary>Bounds for a node's store.</summary>
    public static DhtStoreLimits Create() => new()
    {
        MaxValueSizeByNamespace = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [RecordKeys.CrlNamespace] = Crl.MaxEncodedLength,
            [RecordKeys.NodeNamespace] = NodeRecord.MaxEncodedLength,
            [KontinuumP2P.Mailbox.Health.SlotRecord.Namespace] = KontinuumP2P.Mailbox.Health.SlotRecord.MaxEncodedLength,
        },
        // A publisher of CRLs stores one per anchor key a node is close to.
        MaxRecordBytesPerPeer = 8L * Crl.MaxEncodedLength,
    };
}
