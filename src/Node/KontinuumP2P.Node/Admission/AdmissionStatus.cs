using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Node.Admission;

/// <summary>What a peer may do in a Kontinuum network.</summary>
public enum AdmissionStatus
{
    /// <summary>Its certificate has not arrived yet.</summary>
    Pending,
    /// <summary>Valid, unrevoked certificate naming its Noise identity: may enter routing tables and be served.</summary>
    Admitted,
    /// <summary>Presented no certificate (an embedded client): may query, never enters a routing table.</summary>
    ClientOnly,
    /// <summary>Presented a bad, expired, revoked, foreign or mismatched certificate: refused.</summary>
    Refused,
}

/// <summary>The admission verdict on one peer.</summary>
/// <param name="Peer">The peer.</param>
/// <param name="Status">The verdict.</param>
/// <param name="Certificate">The certificate it presented, when it presented one that decoded.</param>
/// <param name="Reason">Why, for logs and status output (e.g. <c>certificate-expired</c>).</param>
public sealed record AdmissionVerdict(PeerId Peer, AdmissionStatus Status, Certificate? Certificate, string Reason);
