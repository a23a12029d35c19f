using System.Globalization;
using System.Text;
using KontinuumP2P.Simulations.Scenarios;

namespace KontinuumP2P.Simulations.Reporting;

/// <summary>
/// Writes the CSV files of a scenario run. <c>lookups.csv</c>, <c>timeline.csv</c> and <c>summary.csv</c> depend only
/// on the scenario and seed (same seed, same bytes); <c>performance.csv</c> and <c>memory.csv</c> (the heap and working
/// set at each timeline point) hold the machine's figures.
/// </summary>
public static class CsvReport
{
    /// <summary>The files that must be byte-identical for the same scenario and seed.</summary>
    public static readonly IReadOnlyList<string> DeterministicFiles = ["lookups.csv", "timeline.csv", "summary.csv", "fleet.csv"];

    /// <summary>Writes the CSV files into <paramref name="directory"/>.</summary>
    public static void Write(string directory, IReadOnlyList<RunResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        Directory.CreateDirectory(directory);
        var lookups = new StringBuilder("variant,start_minute,origin,target,success,hops,requests,failures,latency_ms,reachable\n");
        foreach (var l in results.SelectMany(r => r.Lookups))
        {
            lookups.Append(Row(l.Variant, l.StartMinute, l.Origin, l.Target, l.Success ? 1 : 0, l.Hops, l.Requests, l.Failures, l.LatencyMs,
                l.Reachable is { } reachable ? (reachable ? "1" : "0") : ""));
        }
        var timeline = new StringBuilder("variant,minute,online,honest_online,routing_health,mean_table_size,bad_entries,crl_holders\n");
        foreach (var t in results.SelectMany(r => r.Timeline))
            timeline.Append(Row(t.Variant, t.Minute, t.Online, t.HonestOnline, t.RoutingHealth, t.MeanTableSize, t.BadEntries, t.CrlHolders));
        var fleet = new StringBuilder("variant,second,live_mailboxes,groups_whole,groups_below_3,min_live,hq_yellow,hq_orange,hq_red,hq_black\n");
        foreach (var f in results.SelectMany(r => r.FleetTimeline))
            fleet.Append(Row(f.Variant, f.Second, f.LiveMailboxes, f.GroupsWhole, f.GroupsBelow3, f.MinLive, f.Yellow, f.Orange, f.Red, f.Black));
        var summary = new StringBuilder("variant,metric,value\n");
        foreach (var r in results)
            foreach (var (key, value) in r.Metrics) summary.Append(Row(r.Variant, key, value));
        var performance = new StringBuilder("variant,metric,value\n");
        foreach (var r in results)
            foreach (var (key, value) in r.Performance) performance.Append(Row(r.Variant, key, value));
        var memory = new StringBuilder("variant,minute,wall_seconds,cpu_seconds,heap_bytes,live_after_full_bytes,fragmented_bytes,committed_bytes,working_set_bytes,gc_gen2_collections,admission_entries,numbered_pairs,address_entries\n");
        foreach (var m in results.SelectMany(r => r.Memory))
        {
            memory.Append(Row(m.Variant, m.Minute, m.WallSeconds, m.CpuSeconds, m.HeapBytes, m.LiveAfterFullBytes, m.FragmentedBytes, m.CommittedBytes,
                m.WorkingSetBytes, m.Gen2Collections, m.AdmissionEntries, m.NumberedPairs, m.AddressEntries));
        }
        File.WriteAllText(Path.Combine(directory, "lookups.csv"), lookups.ToString());
        File.WriteAllText(Path.Combine(directory, "timeline.csv"), timeline.ToString());
        File.WriteAllText(Path.Combine(directory, "summary.csv"), summary.ToString());
        File.WriteAllText(Path.Combine(directory, "fleet.csv"), fleet.ToString());
        File.WriteAllText(Path.Combine(directory, "performance.csv"), performance.ToString());
        File.WriteAllText(Path.Combine(directory, "memory.csv"), memory.ToString());
    }

    private static string Row(params object[] cells) => string.Join(',', cells.Select(Cell)) + "\n";

    private static string Cell(object value) => value switch
    {
        double d when double.IsNaN(d) => "",
        double d => d.ToString("0.######", CultureInfo.InvariantCulture),
        string s when s.Contains(',', StringComparison.Ordinal) || s.Contains('"', StringComparison.Ordinal) => "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
