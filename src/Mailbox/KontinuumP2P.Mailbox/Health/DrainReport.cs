using Google.Protobuf;
using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Encoding;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Mailbox.Health.Wire;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// A mailbox node's count of the mailboxes it still holds, signed by its node key with its certificate attached: HQ's
/// catch-up signal for a drained node (clients close their mailboxes there once the slot's new node holds everything).
/// </summary>
/// <param name="OpenMailboxes">Mailboxes not closed.</param>
/// <param name="MailboxesWithBlobs">Of those, mailboxes holding blobs.</param>
/// <param name="At">When the node counted (its clock; HQ uses its own receive time).</param>
/// <param name="Reporter">The node's certificate.</param>
public sealed record DrainReport(int OpenMailboxes, int MailboxesWithBlobs, DateTimeOffset At, Certificate Reporter)
{
    private static readonly byte[] Domain = "kontinuum-drain-report-v1\0"u8.ToArray();

    internal SignedDrainReport ToSigned(Ed25519Identity key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!Reporter.Body.NodePublicKey.Span.SequenceEqual(key.PublicKey))
            throw new ArgumentException("the key is not the reporter certificate's node key", nameof(key));
        var body = new DrainReportBody
        {
            OpenMailboxes = (uint)Math.Max(0, OpenMailboxes),
            MailboxesWithBlobs = (uint)Math.Max(0, MailboxesWithBlobs),
            AtUnixMs = At.ToUnixTimeMilliseconds(),
        }.ToByteArray();
        return new SignedDrainReport
        {
            Body = ByteString.CopyFrom(body),
            Signature = ByteString.CopyFrom(key.Sign([.. Domain, .. body])),
            ReporterCertificate = ByteString.CopyFrom(Reporter.Encode()),
        };
    }

    /// <exception cref="FormatException">Malformed, or not signed by the attached certificate's key.</exception>
    internal static DrainReport FromSigned(SignedDrainReport signed)
    {
        try
        {
            var reporter = Certificate.Decode(signed.ReporterCertificate.Span);
            if (!Ed25519Identity.Verify(reporter.Body.NodePublicKey.Span, [.. Domain, .. signed.Body.Span], signed.Signature.Span))
                throw new FormatException("drain report signature is not the reporter's");
            var b = DrainReportBody.Parser.ParseFrom(signed.Body);
            if (b.MailboxesWithBlobs > b.OpenMailboxes) throw new FormatException("more mailboxes with blobs than open mailboxes");
            return new DrainReport((int)Math.Min(b.OpenMailboxes, int.MaxValue), (int)Math.Min(b.MailboxesWithBlobs, int.MaxValue),
                DateTimeOffset.FromUnixTimeMilliseconds(b.AtUnixMs), reporter);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or TrustFormatException or ArgumentException)
        {
            throw new FormatException($"malformed drain report: {e.Message}", e);
        }
    }
}

/// <summary>Counts the mailboxes a node still holds (for <see cref="DrainReport"/>).</summary>
public interface IMailboxCensus
{
    /// <summary>Open mailboxes, and how many of them hold blobs.</summary>
    (int Open, int WithBlobs) CountMailboxes();
}

/// <summary>Delivers drain reports to HQ (a <see cref="IHealthAlertSink"/> that also carries them).</summary>
public interface IDrainReportSink
{
    /// <summary>Delivers one report; may throw when HQ is unreachable (the next one follows after the interval).</summary>
    Task SendAsync(DrainReport report, CancellationToken cancellationToken);
}

/// <summary>What receives drain reports whose signature verified, on HQ's side (certificate checks are the receiver's).</summary>
public interface IDrainReportReceiver
{
    /// <summary>Handles a report; returns whether it was stored.</summary>
    bool Receive(DrainReport report);
}
