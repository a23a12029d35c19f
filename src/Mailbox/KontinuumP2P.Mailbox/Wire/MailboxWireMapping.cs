using KontinuumP2P.Mailbox.Protos;

namespace KontinuumP2P.Mailbox.Wire;

/// <summary>Maps the generated wire messages to the public records and back.</summary>
internal static class MailboxWireMapping
{
    public static Limits ToWire(MailboxLimits limits) => new()
    {
        MaxBlobBytes = (uint)limits.MaxBlobBytes,
        MaxMailboxBytes = (ulong)limits.MaxMailboxBytes,
        MaxMailboxBlobs = (ulong)limits.MaxMailboxBlobs,
        MaxPullBlobs = (uint)limits.MaxPullBlobs,
        MaxPullBytes = (uint)limits.MaxPullBytes,
        PushesPerMinute = (uint)limits.PushesPerMinute,
    };

    public static MailboxLimits FromWire(Limits? limits) => limits is null
        ? new MailboxLimits(0, 0, 0, 0, 0, 0)
        : new MailboxLimits(ClampInt(limits.MaxBlobBytes), ClampLong(limits.MaxMailboxBytes), ClampLong(limits.MaxMailboxBlobs),
            ClampInt(limits.MaxPullBlobs), ClampInt(limits.MaxPullBytes), ClampInt(limits.PushesPerMinute));

    public static Retention ToWire(MailboxRetention retention) => new()
    {
        Role = retention.Role == MailboxRole.Replica ? Role.Replica : Role.Ephemeral,
        TtlSecondsMax = (ulong)retention.TtlMax.TotalSeconds,
        TtlSecondsDefault = (ulong)retention.TtlDefault.TotalSeconds,
        IdleExpirySeconds = (ulong)retention.IdleExpiry.TotalSeconds,
    };

    public static MailboxRetention FromWire(Retention? retention) => retention is null
        ? new MailboxRetention(MailboxRole.Ephemeral, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero)
        : new MailboxRetention(retention.Role == Role.Replica ? MailboxRole.Replica : MailboxRole.Ephemeral,
            Seconds(retention.TtlSecondsMax), Seconds(retention.TtlSecondsDefault), Seconds(retention.IdleExpirySeconds));

    public static MailboxErrorCode FromWire(ErrorCode code) =>
        Enum.IsDefined((MailboxErrorCode)(int)code) ? (MailboxErrorCode)(int)code : MailboxErrorCode.Unspecified;

    public static ErrorCode ToWire(MailboxErrorCode code) => (ErrorCode)(int)code;

    public static MailboxException ToException(Error error) =>
        new(FromWire(error.Code), error.Message, TimeSpan.FromMilliseconds(error.RetryAfterMs), error.Epoch);

    private static TimeSpan Seconds(ulong seconds) => TimeSpan.FromSeconds(Math.Min(seconds, (ulong)TimeSpan.MaxValue.TotalSeconds - 1));

    private static int ClampInt(ulong value) => (int)Math.Min(value, int.MaxValue);

    private static long ClampLong(ulong value) => (long)Math.Min(value, long.MaxValue);
}
