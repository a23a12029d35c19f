namespace KontinuumP2P.Certs.Encoding;

/// <summary>Whole-second Unix times as carried in documents.</summary>
internal static class UnixTime
{
    /// <summary>Latest accepted time (year 9999), so conversions never overflow.</summary>
    public const long Max = 253402300799;

    public static long ToSeconds(DateTimeOffset time) => time.ToUnixTimeSeconds();

    public static DateTimeOffset FromSeconds(long seconds, string field)
    {
        if (seconds is < 0 or > Max) throw new TrustFormatException($"{field} {seconds} is not a Unix time between 1970 and 9999");
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    public static DateTimeOffset Truncate(DateTimeOffset time) => DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds());
}
