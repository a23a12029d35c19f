using KontinuumP2P.Simulations.Scenarios;
using ScottPlot;

namespace KontinuumP2P.Simulations.Reporting;

/// <summary>PNG plots of a scenario run, one line per variant.</summary>
public static class PlotReport
{
    private const int Width = 800;
    private const int Height = 500;

    /// <summary>The files written.</summary>
    public static readonly IReadOnlyList<string> Files = ["hops.png", "latency-cdf.png", "success-over-time.png", "routing-health.png"];

    /// <summary>Writes the plots into <paramref name="directory"/>.</summary>
    public static void Write(string directory, IReadOnlyList<RunResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        Directory.CreateDirectory(directory);
        Save(Path.Combine(directory, "hops.png"), "Hops of successful lookups", "hops", "share of lookups", plot =>
        {
            foreach (var r in results)
            {
                var hops = r.Lookups.Where(l => l.Success && l.Hops >= 0).Select(l => l.Hops).ToList();
                if (hops.Count == 0) continue;
                var xs = Enumerable.Range(0, hops.Max() + 1).Select(h => (double)h).ToArray();
                var ys = xs.Select(h => hops.Count(x => x == (int)h) / (double)hops.Count).ToArray();
                plot.Add.Scatter(xs, ys).LegendText = r.Variant;
            }
        });
        Save(Path.Combine(directory, "latency-cdf.png"), "Lookup latency (successful lookups)", "latency (ms, virtual)", "cumulative share", plot =>
        {
            foreach (var r in results)
            {
                var latency = r.Lookups.Where(l => l.Success).Select(l => l.LatencyMs).Order().ToArray();
                if (latency.Length == 0) continue;
                var ys = Enumerable.Range(1, latency.Length).Select(i => i / (double)latency.Length).ToArray();
                var line = plot.Add.Scatter(latency, ys);
                line.MarkerSize = 0;
                line.LegendText = r.Variant;
            }
        });
        Save(Path.Combine(directory, "success-over-time.png"), "Lookup success over time", "minute of the measured phase", "success rate", plot =>
        {
            foreach (var r in results)
            {
                // Two-minute buckets by start time.
                var buckets = r.Lookups.GroupBy(l => Math.Floor(l.StartMinute / 2) * 2).OrderBy(g => g.Key).ToList();
                if (buckets.Count == 0) continue;
                plot.Add.Scatter(buckets.Select(b => b.Key).ToArray(), buckets.Select(b => b.Count(l => l.Success) / (double)b.Count()).ToArray())
                    .LegendText = r.Variant;
            }
            plot.Axes.SetLimitsY(0, 1.05);
        });
        Save(Path.Combine(directory, "routing-health.png"), "Routing-table health (share of honest nodes knowing all k closest)", "minute (negative: joining)",
            "share of honest nodes", plot =>
            {
                foreach (var r in results)
                {
                    if (r.Timeline.Count == 0) continue;
                    plot.Add.Scatter(r.Timeline.Select(t => t.Minute).ToArray(), r.Timeline.Select(t => t.RoutingHealth).ToArray()).LegendText = r.Variant;
                }
                plot.Axes.SetLimitsY(0, 1.05);
            });
    }

    private static void Save(string path, string title, string xLabel, string yLabel, Action<Plot> fill)
    {
        using var plot = new Plot();
        fill(plot);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        plot.SavePng(path, Width, Height);
    }
}
