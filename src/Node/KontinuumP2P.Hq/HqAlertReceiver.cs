using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Mailbox.Health;

namespace KontinuumP2P.Hq;

/// <summary>
/// HQ's end of the health protocol: accepts a signed alert only when the reporter's certificate verifies against the
/// anchors, is not revoked and carries the <c>mailbox</c> capability, then feeds it to <see cref="HqService.OnAlert"/>;
/// drain reports likewise to <see cref="HqService.OnDrainReport"/>.
/// </summary>
public sealed class HqAlertReceiver : IHealthAlertReceiver, IDrainReportReceiver
{
    /// <summary>Capability a reporter must hold.</summary>
    public const string MailboxCapability = "mailbox";

    private readonly HqService _hq;
    private readonly Func<TrustAnchors> _anchors;
    private readonly IRevocationSource? _revocations;

    /// <summary>Creates the receiver.</summary>
    public HqAlertReceiver(HqService hq, Func<TrustAnchors> anchors, IRevocationSource? revocations)
    {
        _hq = hq ?? throw new ArgumentNullException(nameof(hq));
        _anchors = anchors ?? throw new ArgumentNullException(nameof(anchors));
        _revocations = revocations;
    }

    /// <summary>Raised after every accepted alert with what it changed (on the receiving stream's thread).</summary>
    public event Action<Escalation.EscalationResult>? Escalated;

    /// <summary>Alerts refused (bad certificate).</summary>
    public long Refused { get; private set; }

    /// <inheritdoc />
    public bool Receive(HealthAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        if (!alert.Reporter.Body.Capabilities.Contains(MailboxCapability) || !_anchors().VerifyCertificate(alert.Reporter, _revocations).IsValid)
        {
            Refused++;
            return false;
        }
        var result = _hq.OnAlert(alert.Reporter.Body.PeerId, alert.Target, alert.Level);
        Escalated?.Invoke(result);
        return true;
    }

    /// <inheritdoc />
    public bool Receive(DrainReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (!report.Reporter.Body.Capabilities.Contains(MailboxCapability) || !_anchors().VerifyCertificate(report.Reporter, _revocations).IsValid)
        {
            Refused++;
            return false;
        }
        return _hq.OnDrainReport(report.Reporter.Body.PeerId, report.OpenMailboxes, report.MailboxesWithBlobs);
    }
}
