using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht;

namespace KontinuumP2P.Node.Admission;

/// <summary>Plugs <see cref="CertificateAdmission"/> verdicts into the DHT's admission hook.</summary>
public sealed class CertificatePeerAdmission : IPeerAdmission, IAdmissionGeneration
{
    private readonly CertificateAdmission _admission;

    /// <summary>Wraps the admission service.</summary>
    public CertificatePeerAdmission(CertificateAdmission admission) => _admission = admission;

    /// <inheritdoc />
    public PeerAdmissionState GetState(PeerId peer) => Map(_admission.GetStatus(peer));

    /// <inheritdoc />
    long IAdmissionGeneration.Generation => _admission.Generation;

    /// <inheritdoc />
    PeerAdmissionState IAdmissionGeneration.GetState(PeerId peer, out long generation) => Map(_admission.GetStatus(peer, out generation));

    /// <inheritdoc />
    public async ValueTask<PeerAdmissionState> WaitForDecisionAsync(PeerId peer, CancellationToken cancellationToken)
    {
        var status = _admission.GetStatus(peer);
        if (status != AdmissionStatus.Pending) return Map(status);
        return Map((await _admission.WaitForVerdictAsync(peer, cancellationToken).ConfigureAwait(false)).Status);
    }

    private static PeerAdmissionState Map(AdmissionStatus status) => status switch
    {
        AdmissionStatus.Admitted => PeerAdmissionState.Admitted,
        AdmissionStatus.ClientOnly => PeerAdmissionState.QueryOnly,
        AdmissionStatus.Refused => PeerAdmissionState.Refused,
        _ => PeerAdmissionState.Pending,
    };
}
