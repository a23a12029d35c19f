using System.Collections;
using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// <c>node.toml</c> as an <see cref="IConfigurationSource"/>: parsed and checked (Tomlyn)
/// (unknown keys and wrong types fail with <c>section.key</c>), then offered as configuration keys
/// <c>[prefix:]section:key</c> (lists as <c>section:key:0</c>, <c>:1</c> …). Environment overrides
/// (<c>KONTINUUM__SECTION__KEY</c>) come from a source added after this one: <see cref="NodeEnvironmentConfigurationSource"/>
/// (checked, errors naming the variable) or the usual environment-variables source.
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
        // The file's own keys only: environment overrides are the environment source's job, added after this one.
        var prefix = string.IsNullOrEmpty(_source.Prefix) ? "" : _source.Prefix + ConfigurationPath.KeyDelimiter;
        Data = ToData(NodeConfigLoader.ReadFile(_source.Path), prefix);
    }

    /// <summary>Every key of <paramref name="config"/> (defaults included) as <c>[prefix]section:key</c>, lists as children.</summary>
    internal static Dictionary<string, string?> ToData(NodeConfig config, string prefix)
    {
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
        return data;
    }
}

/// <summary>
/// The <c>KONTINUUM__SECTION__KEY</c> environment variables as an <see cref="IConfigurationSource"/> (keys
/// <c>[prefix:]section:key</c>), checked when loaded: an unknown key or a value of the wrong type fails with a
/// <see cref="NodeConfigException"/> naming the variable and <c>section.key</c>. Add it after <see cref="TomlConfigurationSource"/>.
/// </summary>
public sealed class NodeEnvironmentConfigurationSource : IConfigurationSource
{
    /// <summary>The variables; the process environment when null.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>A section the keys go under (e.g. <c>Kontinuum</c>); none when null.</summary>
    public string? Prefix { get; init; }

    /// <inheritdoc />
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new Provider(this);

    private sealed class Provider(NodeEnvironmentConfigurationSource source) : ConfigurationProvider
    {
        public override void Load() => Data = NodeConfigLoader.CheckEnvironment(source.Environment ?? NodeConfigLoader.ProcessEnvironment(),
            string.IsNullOrEmpty(source.Prefix) ? "" : source.Prefix + ConfigurationPath.KeyDelimiter);
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

    /// <summary>
    /// Adds the <c>KONTINUUM__SECTION__KEY</c> variables of <paramref name="environment"/> (the process environment when
    /// null), checked against node.toml's keys, under <paramref name="prefix"/>. Add it after <see cref="AddNodeToml"/>.
    /// </summary>
    public static IConfigurationBuilder AddNodeEnvironment(this IConfigurationBuilder builder, IReadOnlyDictionary<string, string>? environment = null,
        string? prefix = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new NodeEnvironmentConfigurationSource { Environment = environment, Prefix = prefix });
    }
}
