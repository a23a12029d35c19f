using System.Globalization;
using System.Text.Json;
using Tomlyn;

namespace KontinuumP2P.Simulations.Scenarios;

/// <summary>A scenario file that cannot be used; the message names the file and the bad key.</summary>
public sealed class ScenarioFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ScenarioFormatException() : base("bad scenario") { }

    /// <summary>Creates the exception with a message.</summary>
    public ScenarioFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ScenarioFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Reads scenario files (TOML, snake_case keys) and checks every value.</summary>
public static class ScenarioLoader
{
    private static readonly TomlSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Reads and validates <paramref name="path"/>.</summary>
    /// <exception cref="ScenarioFormatException">The file is not valid TOML, has an unknown key, or a value is out of range.</exception>
    public static ScenarioFile Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses and validates scenario text; <paramref name="source"/> names it in errors.</summary>
    public static ScenarioFile Parse(string toml, string source)
    {
        ScenarioFile? file;
        try
        {
            file = TomlSerializer.Deserialize<ScenarioFile>(toml, Options);
        }
        catch (Exception e) when (e is TomlException or InvalidOperationException or FormatException or InvalidCastException)
        {
            throw new ScenarioFormatException($"{source}: {e.Message}", e);
        }
        if (file is null) throw new ScenarioFormatException($"{source}: empty scenario");
        CheckUnknown(source, "", file.Unknown);
        CheckUnknown(source, "network.", file.Network.Unknown);
        CheckUnknown(source, "dht.", file.Dht.Unknown);
        CheckUnknown(source, "join.", file.Join.Unknown);
        CheckUnknown(source, "lookups.", file.Lookups.Unknown);
        CheckUnknown(source, "churn.", file.Churn?.Unknown);
        CheckUnknown(source, "partition.", file.Partition?.Unknown);
        CheckUnknown(source, "adversary.", file.Adversary?.Unknown);
        CheckUnknown(source, "crl.", file.Crl?.Unknown);
        CheckUnknown(source, "authority.", file.Authority.Unknown);
        CheckUnknown(source, "report.", file.Report.Unknown);
        CheckUnknown(source, "fleet.", file.Fleet?.Unknown);
        Validate(file, source);
        file.Name ??= Path.GetFileNameWithoutExtension(source);
        return file;
    }

    /// <summary>Checks the values of a scenario again (after command-line overrides).</summary>
    /// <exception cref="ScenarioFormatException">A value is out of range.</exception>
    public static void Check(ScenarioFile file, string source)
    {
        ArgumentNullException.ThrowIfNull(file);
        Validate(file, source);
    }

    private static void CheckUnknown(string source, string prefix, Dictionary<string, object?>? unknown)
    {
        if (unknown is { Count: > 0 })
            throw new ScenarioFormatException($"{source}: unknown key '{prefix}{unknown.Keys.Order(StringComparer.Ordinal).First()}'");
    }

    private static void Validate(ScenarioFile f, string source)
    {
        void Require(bool ok, string key, object value, string rule)
        {
            if (!ok) throw new ScenarioFormatException(string.Create(CultureInfo.InvariantCulture, $"{source}: '{key}' = {value} is out of range ({rule})"));
        }
        Require(f.Nodes is >= 2 and <= 50_000, "nodes", f.Nodes, "2..50000");
        Require(f.Join.BootstrapNodes >= 1 && f.Join.BootstrapNodes < f.Nodes, "join.bootstrap_nodes", f.Join.BootstrapNodes, "1..nodes-1");
        Require(f.Join.IntervalMs >= 0, "join.interval_ms", f.Join.IntervalMs, ">= 0");
        Require(f.Join.SettleMinutes >= 0, "join.settle_minutes", f.Join.SettleMinutes, ">= 0");
        Require(f.Network.MinLatencyMs >= 0 && f.Network.MaxLatencyMs >= f.Network.MinLatencyMs, "network.max_latency_ms", f.Network.MaxLatencyMs, ">= min_latency_ms >= 0");
        Require(f.Network.JitterMs >= 0, "network.jitter_ms", f.Network.JitterMs, ">= 0");
        Require(f.Network.Loss is >= 0 and < 1, "network.loss", f.Network.Loss, "0 <= loss < 1");
        Require(f.Network.BandwidthMbps >= 0.01, "network.bandwidth_mbps", f.Network.BandwidthMbps, ">= 0.01");
        Require(f.Dht.Alpha >= 1, "dht.alpha", f.Dht.Alpha, ">= 1");
        Require(f.Dht.Beta >= 1, "dht.beta", f.Dht.Beta, ">= 1");
        Require(f.Dht.DisjointPaths.Count > 0 && f.Dht.DisjointPaths.All(d => d >= 1 && d <= f.Dht.Alpha), "dht.disjoint_paths",
            string.Join(',', f.Dht.DisjointPaths), "non-empty, each 1..alpha");
        Require(f.Dht.RefreshMinutes > 0, "dht.refresh_minutes", f.Dht.RefreshMinutes, "> 0");
        Require(f.Dht.RequestTimeoutSeconds > 0, "dht.request_timeout_seconds", f.Dht.RequestTimeoutSeconds, "> 0");
        Require(f.Dht.QueryTimeoutSeconds > 0, "dht.query_timeout_seconds", f.Dht.QueryTimeoutSeconds, "> 0");
        Require(f.Lookups.Minutes > 0, "lookups.minutes", f.Lookups.Minutes, "> 0");
        Require(f.Lookups.PerMinute is > 0 and <= 10_000, "lookups.per_minute", f.Lookups.PerMinute, "0 < x <= 10000");
        Require(f.Lookups.Kind is "find_peer" or "get_record", "lookups.kind", f.Lookups.Kind, "find_peer or get_record");
        Require(!f.Lookups.Confirm || f.Lookups.Kind == "find_peer", "lookups.confirm", f.Lookups.Confirm, "only with kind = find_peer");
        if (f.Churn is { } churn) Require(churn.PerHour is >= 0 and <= 10, "churn.per_hour", churn.PerHour, "0..10");
        if (f.Partition is { } p)
        {
            Require(p.StartMinute >= 0 && p.HealMinute > p.StartMinute, "partition.heal_minute", p.HealMinute, "> start_minute >= 0");
            Require(p.Fraction is > 0 and < 1, "partition.fraction", p.Fraction, "0 < x < 1");
        }
        if (f.Adversary is { } a)
        {
            Require(a.Role is "uncertified" or "revoked" or "poisoner" or "withholder", "adversary.role", a.Role, "uncertified, revoked, poisoner or withholder");
            Require(a.Fractions.Count > 0 && a.Fractions.All(x => x is >= 0 and < 0.9), "adversary.fractions", string.Join(',', a.Fractions), "non-empty, each 0..0.9");
        }
        if (f.Crl is { } c)
        {
            Require(c.AtMinute >= 0 && c.AtMinute < f.Lookups.Minutes, "crl.at_minute", c.AtMinute, "inside the measured phase");
            Require(c.Revoke >= 0 && c.Revoke < f.Nodes / 2, "crl.revoke", c.Revoke, "0..nodes/2");
            Require(c.RefreshMinutes > 0, "crl.refresh_minutes", c.RefreshMinutes, "> 0");
        }
        Require(f.Authority.Anchors is >= 1 and <= 32, "authority.anchors", f.Authority.Anchors, "1..32");
        Require(f.Authority.Threshold >= 1 && f.Authority.Threshold <= f.Authority.Anchors, "authority.threshold", f.Authority.Threshold, "1..anchors");
        Require(f.Report.SampleMinutes > 0, "report.sample_minutes", f.Report.SampleMinutes, "> 0");
        if (f.Fleet is { } fleet) FleetSection.Validate(fleet, f.Nodes, (key, ok, value, rule) => Require(ok, key, value, rule));
    }
}
