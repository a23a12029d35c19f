using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using KontinuumP2P.Node.Hosting;

namespace KontinuumP2P.Cli.Daemon;

/// <summary>
/// Renders the instruments of one <see cref="IMeterFactory"/> in the Prometheus text format (version 0.0.4): counters
/// as <c>_total</c>, up-down counters and gauges as gauges, histograms as summaries (<c>_sum</c>, <c>_count</c>).
/// Dots in instrument names become underscores; tags become labels. Observable instruments are read at each scrape.
/// </summary>
internal sealed class PrometheusMeterExporter : IDisposable
{
    private readonly object _scope;
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<Instrument, Dictionary<string, Series>> _series = [];

    /// <summary>Starts listening to the instruments whose meter was created by <paramref name="scope"/>.</summary>
    public PrometheusMeterExporter(IMeterFactory scope)
    {
        _scope = scope ?? throw new ArgumentNullException(nameof(scope));
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, _scope)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.MeasurementsCompleted = (instrument, _) =>
        {
            lock (_gate) _series.Remove(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    /// <summary>Reads the observable instruments and renders every series.</summary>
    public string Render()
    {
        lock (_gate)
        {
            // Gauges report what is true now: drop last scrape's values so vanished series (an emptied bucket) go away.
            foreach (var (instrument, series) in _series)
            {
                if (IsObservableGauge(instrument)) series.Clear();
            }
        }
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        lock (_gate)
        {
            foreach (var (instrument, series) in _series.OrderBy(s => s.Key.Name, StringComparer.Ordinal))
            {
                if (series.Count == 0) continue;
                var name = MetricName(instrument);
                var type = TypeOf(instrument);
                if (instrument.Description is { Length: > 0 } help) text.Append("# HELP ").Append(name).Append(' ').Append(Escape(help, label: false)).Append('\n');
                text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
                foreach (var (labels, value) in series.OrderBy(s => s.Key, StringComparer.Ordinal))
                {
                    if (type == "summary")
                    {
                        Line(text, name + "_sum", labels, value.Sum);
                        Line(text, name + "_count", labels, value.Count);
                    }
                    else
                    {
                        Line(text, type == "counter" ? name + "_total" : name, labels, value.Sum);
                    }
                }
            }
        }
        return text.ToString();
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct, IConvertible
    {
        var number = value.ToDouble(CultureInfo.InvariantCulture);
        var labels = Labels(tags);
        lock (_gate)
        {
            if (!_series.TryGetValue(instrument, out var series)) _series[instrument] = series = new Dictionary<string, Series>(StringComparer.Ordinal);
            if (!series.TryGetValue(labels, out var entry)) series[labels] = entry = new Series();
            if (instrument is ObservableCounter<T> or ObservableUpDownCounter<T> || IsObservableGauge(instrument)) entry.Sum = number;
            else entry.Sum += number;
            entry.Count++;
        }
    }

    private static bool IsObservableGauge(Instrument instrument) => instrument.IsObservable && instrument.GetType().Name.StartsWith("ObservableGauge", StringComparison.Ordinal);

    private static string TypeOf(Instrument instrument)
    {
        var kind = instrument.GetType().Name;
        if (kind.StartsWith("Histogram", StringComparison.Ordinal)) return "summary";
        if (kind.StartsWith("Counter", StringComparison.Ordinal) || kind.StartsWith("ObservableCounter", StringComparison.Ordinal)) return "counter";
        return "gauge";
    }

    private static string MetricName(Instrument instrument)
    {
        var name = new StringBuilder(instrument.Name.Length);
        foreach (var c in instrument.Name) name.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        if (char.IsAsciiDigit(name[0])) name.Insert(0, '_');
        return name.ToString();
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var pairs = new List<string>(tags.Length);
        foreach (var (key, value) in tags)
        {
            var name = string.Concat(key.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));
            pairs.Add($"{name}=\"{Escape(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "", label: true)}\"");
        }
        pairs.Sort(StringComparer.Ordinal);
        return "{" + string.Join(',', pairs) + "}";
    }

    private static void Line(StringBuilder text, string name, string labels, double value) =>
        text.Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    private static string Escape(string text, bool label)
    {
        var escaped = text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        return label ? escaped.Replace("\"", "\\\"", StringComparison.Ordinal) : escaped;
    }

    private sealed class Series
    {
        public double Sum { get; set; }
        public long Count { get; set; }
    }
}
