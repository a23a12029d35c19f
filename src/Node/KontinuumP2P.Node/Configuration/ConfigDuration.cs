using System.Globalization;

namespace KontinuumP2P.Node.Configuration;

/// <summary>Durations in <c>node.toml</c>: a number and a unit, <c>500ms</c>, <c>30s</c>, <c>10m</c>, <c>1h</c>, <c>2d</c>.</summary>
public static class ConfigDuration
{
    /// <summary>Parses <paramref name="text"/>; null when it is not a positive duration with a unit.</summary>
    public static TimeSpan? TryParse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var trimmed = text.Trim();
        var split = 0;
        while (split < trimmed.Length && (char.IsAsciiDigit(trimmed[split]) || trimmed[split] == '.')) split++;
        if (split == 0 || !double.TryParse(trimmed[..split], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)) return null;
        TimeSpan? result = trimmed[split..].Trim() switch
        {
            "ms" => TimeSpan.FromMilliseconds(amount),
            "s" => TimeSpan.FromSeconds(amount),
            "m" => TimeSpan.FromMinutes(amount),
            "h" => TimeSpan.FromHours(amount),
            "d" => TimeSpan.FromDays(amount),
            _ => null,
        };
        return result > TimeSpan.Zero ? result : null;
    }

    /// <summary>Parses the value of <paramref name="key"/> and checks it lies within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="NodeConfigException">Not a duration or out of range; the message names the key.</exception>
    public static TimeSpan Parse(string key, string? text, TimeSpan min, TimeSpan max)
    {
        var value = TryParse(text)
            ?? throw new NodeConfigException(key, $"{key}: '{text}' is not a duration (a number and a unit: 500ms, 30s, 10m, 1h, 2d)");
        if (value < min || value > max) throw new NodeConfigException(key, $"{key}: {text} is outside {min} to {max}");
        return value;
    }
}
