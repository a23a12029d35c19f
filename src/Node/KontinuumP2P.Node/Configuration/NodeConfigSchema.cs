using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Tomlyn.Model;

namespace KontinuumP2P.Node.Configuration;

/// <summary>The kinds of value a <c>node.toml</c> key holds.</summary>
internal enum ConfigValueKind
{
    Text,
    Integer,
    Boolean,
    TextList,
}

/// <summary>One key of <c>node.toml</c>: its section, its name and the property it binds to.</summary>
internal sealed record ConfigKey(string Section, string Name, ConfigValueKind Kind, PropertyInfo SectionProperty, PropertyInfo Property)
{
    public string FullName => $"{Section}.{Name}";

    public string EnvironmentName => $"{NodeConfigLoader.EnvironmentPrefix}{Section.ToUpperInvariant()}__{Name.ToUpperInvariant()}";

    public string Describe() => Kind switch
    {
        ConfigValueKind.Text => "a string",
        ConfigValueKind.Integer => "an integer",
        ConfigValueKind.Boolean => "true or false",
        _ => "an array of strings",
    };
}

/// <summary>
/// The keys of <see cref="NodeConfig"/>, read from its properties with the same snake_case policy the TOML names use,
/// so the model is the single source of truth for what is known and of which type.
/// </summary>
internal sealed class NodeConfigSchema
{
    public static readonly JsonNamingPolicy Naming = JsonNamingPolicy.SnakeCaseLower;

    private readonly Dictionary<string, Dictionary<string, ConfigKey>> _sections = new(StringComparer.Ordinal);

    public NodeConfigSchema()
    {
        foreach (var section in typeof(NodeConfig).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var sectionName = Naming.ConvertName(section.Name);
            var keys = new Dictionary<string, ConfigKey>(StringComparer.Ordinal);
            foreach (var property in section.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var kind = property.PropertyType == typeof(string) ? ConfigValueKind.Text
                    : property.PropertyType == typeof(long) ? ConfigValueKind.Integer
                    : property.PropertyType == typeof(bool) ? ConfigValueKind.Boolean
                    : property.PropertyType == typeof(IList<string>) ? ConfigValueKind.TextList
                    : throw new InvalidOperationException($"{section.Name}.{property.Name}: unsupported configuration type {property.PropertyType}");
                var name = Naming.ConvertName(property.Name);
                keys[name] = new ConfigKey(sectionName, name, kind, section, property);
            }
            _sections[sectionName] = keys;
        }
    }

    public IEnumerable<ConfigKey> Keys => _sections.Values.SelectMany(s => s.Values);

    public bool HasSection(string section) => _sections.ContainsKey(section);

    public IEnumerable<string> SectionNames => _sections.Keys;

    public ConfigKey? Find(string section, string key) =>
        _sections.TryGetValue(section, out var keys) && keys.TryGetValue(key, out var found) ? found : null;

    public string KnownKeys(string section) => string.Join(", ", _sections[section].Keys);

    /// <summary>Converts a parsed TOML value to the key's CLR type, or returns null when it has the wrong type.</summary>
    public static object? Convert(ConfigKey key, object? value) => key.Kind switch
    {
        ConfigValueKind.Text => value as string,
        ConfigValueKind.Integer => value is long l ? l : null,
        ConfigValueKind.Boolean => value is bool b ? b : null,
        _ => value is TomlArray array && array.All(v => v is string) ? (IList<string>)[.. array.Cast<string>()] : null,
    };

    /// <summary>Converts an environment variable's text to the key's CLR type, or returns null when it does not fit.</summary>
    public static object? ConvertText(ConfigKey key, string text) => key.Kind switch
    {
        ConfigValueKind.Text => text,
        ConfigValueKind.Integer => long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null,
        ConfigValueKind.Boolean => text.Trim().ToUpperInvariant() switch
        {
            "TRUE" or "1" or "YES" => true,
            "FALSE" or "0" or "NO" => false,
            _ => null,
        },
        // Lists are comma-separated; an empty variable is an empty list.
        _ => (IList<string>)[.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
    };

    /// <summary>The TOML type name of a parsed value, for error messages.</summary>
    public static string DescribeValue(object? value) => value switch
    {
        null => "nothing",
        string => "a string",
        long => "an integer",
        double => "a float",
        bool => "a boolean",
        TomlArray a when a.Any(v => v is not string) => "an array holding " + DescribeValue(a.First(v => v is not string)),
        TomlArray => "an array",
        TomlTable => "a table",
        _ => value.GetType().Name,
    };
}
