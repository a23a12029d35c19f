using System.Collections;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// <c>node.toml</c> as an <see cref="IConfigurationSource"/>: parsed and checked by <see cref="NodeConfigLoader"/>
/// (unknown keys and wrong types fail with <c>section.key</c>), then offered as configuration keys
/// <c>[prefix:]section:key</c> (lists as <c>section:key:0</c>, <c>:1</c> …). Environment overrides
/// (<c>KONTINUUM__SECTION__KEY</c>) come from the usual environment-variables source, added after this one.
/// </summary>
public sealed class TomlConfigurationSource : IConfigurationSource
{
    /// <summary>The file.</summary>
    public required string Path { get; init; }

    /// <summary>A section the keys go under (e.g. <c>Kontinuum</c>); none when null.</summary>
    public string? Prefix { get; init; }

    /// <inheritdoc />
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new TomlConfigurationProvider(this);
}

/// <summary>The provider of <see cref="TomlConfigurationSource"/>.</summary>
public sealed class TomlConfigurationProvider : ConfigurationProvider
{
    private readonly TomlConfigurationSource _source;

    /// <summary>Creates the provider.</summary>
    public TomlConfigurationProvider(TomlConfigurationSource source) => _source = source ?? throw new ArgumentNullException(nameof(source));

    /// <inheritdoc />
    /// <exception cref="NodeConfigException">The file is unreadable, malformed, or has an unknown key or a wrong type.</exception>
    public override void Load()
    {
        // The file's own keys only: environment overrides are the environment source's job in this path.
        var config = NodeConfigLoader.Load(_source.Path, new Dictionary<string, string>());
        var prefix = string.IsNullOrEmpty(_source.Prefix) ? "" : _source.Prefix + ConfigurationPath.KeyDelimiter;
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in new NodeConfigSchema().Keys)
        {
            var name = prefix + key.Section + ConfigurationPath.KeyDelimiter + key.Name;
            var value = key.Property.GetValue(key.SectionProperty.GetValue(config));
            switch (value)
            {
                case IList list:
                    for (var i = 0; i < list.Count; i++) data[name + ConfigurationPath.KeyDelimiter + i.ToString(CultureInfo.InvariantCulture)] = (string?)list[i];
                    break;
                case bool b:
                    data[name] = b ? "true" : "false";
                    break;
                case IFormattable formattable:
                    data[name] = formattable.ToString(null, CultureInfo.InvariantCulture);
                    break;
                default:
                    data[name] = value?.ToString();
                    break;
            }
        }
        Data = data;
    }
}

/// <summary>Adds <c>node.toml</c> to a configuration.</summary>
public static class TomlConfigurationExtensions
{
    /// <summary>Adds <paramref name="path"/>, its keys under <paramref name="prefix"/> (e.g. <c>Kontinuum</c>).</summary>
    public static IConfigurationBuilder AddNodeToml(this IConfigurationBuilder builder, string path, string? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return builder.Add(new TomlConfigurationSource { Path = path, Prefix = prefix });
    }
}
