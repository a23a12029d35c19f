using Google.Protobuf;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health.Wire;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// A mailbox's alert to HQ about a target, signed by the reporting mailbox's node key, with its certificate attached
/// (HQ accepts it only from a certified <c>mailbox</c> node).
/// </summary>
/// <param name="Target">The target.</param>
/// <param name="Level">The mailbox's level for it.</param>
/// <param name="UniqueReporters">Unique registered devices reporting it.</param>
/// <param name="ConsecutiveFailures">Failed checks in a row.</param>
/// <param name="FailingSince">First failed check, if failing.</param>
/// <param name="At">When the alert was made.</param>
/// <param name="Reporter">The reporting mailbox's certificate.</param>
public sealed record HealthAlert(HealthTarget Target, HealthLevel Level, int UniqueReporters, int ConsecutiveFailures, DateTimeOffset? FailingSince,
    DateTimeOffset At, Certificate Reporter)
{
    private static readonly byte[] Domain = "kontinuum-health-alert-v1\0"u8.ToArray();

    /// <summary>Signs the alert with the reporter's node key; returns the wire message bytes.</summary>
    public byte[] Sign(Ed25519Identity reporterKey)
    {
        ArgumentNullException.ThrowIfNull(reporterKey);
        if (!Reporter.Body.NodePublicKey.Span.SequenceEqual(reporterKey.PublicKey))
            throw new ArgumentException("the key is not the reporter certificate's node key", nameof(reporterKey));
        var body = Body().ToByteArray();
        return new SignedHealthAlert
        {
            Body = ByteString.CopyFrom(body),
            Signature = ByteString.CopyFrom(reporterKey.Sign([.. Domain, .. body])),
            ReporterCertificate = ByteString.CopyFrom(Reporter.Encode()),
        }.ToByteArray();
    }

    /// <summary>Decodes a signed alert and checks its signature against the attached certificate's key (not the certificate itself).</summary>
    /// <exception cref="FormatException">Malformed or badly signed.</exception>
    public static HealthAlert Verify(ReadOnlySpan<byte> signedBytes)
    {
        try
        {
            return FromSigned(SignedHealthAlert.Parser.ParseFrom(signedBytes));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new FormatException($"malformed alert: {e.Message}", e);
        }
    }

    internal static HealthAlert FromSigned(SignedHealthAlert signed)
    {
        try
        {
            var reporter = Certificate.Decode(signed.ReporterCertificate.Span);
            if (!Ed25519Identity.Verify(reporter.Body.NodePublicKey.Span, [.. Domain, .. signed.Body.Span], signed.Signature.Span))
                throw new FormatException("alert signature is not the reporter's");
            var b = HealthAlertBody.Parser.ParseFrom(signed.Body);
            if (!SlotRecord.IsValidSlotName(b.Slot)) throw new FormatException("bad slot name");
            if (b.Level > (uint)HealthLevel.Red) throw new FormatException($"bad level {b.Level}");
            return new HealthAlert(new HealthTarget(b.Slot, PeerId.FromBytes(b.NodeId.Span)), (HealthLevel)b.Level, (int)Math.Min(b.UniqueReporters, int.MaxValue),
                (int)Math.Min(b.ConsecutiveFailures, int.MaxValue), b.FailingSinceUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(b.FailingSinceUnixMs),
                DateTimeOffset.FromUnixTimeMilliseconds(b.AtUnixMs), reporter);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or TrustFormatException or ArgumentException)
        {
            throw new FormatException($"malformed alert: {e.Message}", e);
        }
    }

    internal SignedHealthAlert ToSigned(Ed25519Identity key) => SignedHealthAlert.Parser.ParseFrom(Sign(key));

    private HealthAlertBody Body() => new()
    {
        Slot = Target.Slot,
        NodeId = ByteString.CopyFrom(Target.NodeId.ToByteArray()),
        Level = (uint)Level,
        UniqueReporters = (uint)UniqueReporters,
        ConsecutiveFailures = (uint)ConsecutiveFailures,
        FailingSinceUnixMs = FailingSince?.ToUnixTimeMilliseconds() ?? 0,
        AtUnixMs = At.ToUnixTimeMilliseconds(),
    };
}
