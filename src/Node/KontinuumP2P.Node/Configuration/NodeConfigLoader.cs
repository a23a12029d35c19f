using System.Collections;
using Microsoft.Extensions.Configuration;
using Tomlyn;
using Tomlyn.Model;

namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// Reads <c>node.toml</c> through the one configuration path: the file as a <see cref="TomlConfigurationSource"/>
/// (parsed with Tomlyn; unknown sections and keys and values of the wrong type refused), environment overrides
/// <c>KONTINUUM__SECTION__KEY</c> (lists comma-separated) as a <see cref="NodeEnvironmentConfigurationSource"/> after it,
/// bound by <see cref="NodeConfigBinder"/>. Every error names the key (<c>section.key</c>) or the environment variable,
/// and the file. Semantic checks (multiaddrs, files, durations) are <see cref="NodeConfigResolver"/>'s.
/// </summary>
public static class NodeConfigLoader
{
    /// <summary>Prefix of the environment variables that override keys.</summary>
    public const string EnvironmentPrefix = "KONTINUUM__";

    /// <summary>Largest configuration file read.</summary>
    public const int MaxFileLength = 256 * 1024;

    /// <summary>Loads a file, with overrides from <paramref name="environment"/> (the process environment when null).</summary>
    /// <exception cref="NodeConfigException">Unreadable, malformed, an unknown key or a wrong type; the message names it.</exception>
    public static NodeConfig Load(string path, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return NodeConfigBinder.Bind(new ConfigurationBuilder().AddNodeToml(path).AddNodeEnvironment(environment).Build());
    }

    /// <summary>Parses TOML text named <paramref name="source"/> (for messages), with environment overrides.</summary>
    /// <exception cref="NodeConfigException">Malformed, an unknown key or a wrong type; the message names it.</exception>
    public static NodeConfig Parse(string text, string source, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new ConfigurationBuilder();
        builder.Add(new TomlTextSource(text, source));
        return NodeConfigBinder.Bind(builder.AddNodeEnvironment(environment).Build());
    }

    /// <summary>The file's own keys (no environment), checked: what <see cref="TomlConfigurationProvider"/> offers.</summary>
    internal static NodeConfig ReadFile(string path)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new NodeConfigException("", $"{path}: configuration file does not exist");
            if (info.Length > MaxFileLength) throw new NodeConfigException("", $"{path}: configuration file is over {MaxFileLength} bytes");
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException("", $"{path}: cannot read the configuration file: {e.Message}", e);
        }
        return ReadText(text, path);
    }

    /// <summary>TOML text's own keys (no environment), checked.</summary>
    internal static NodeConfig ReadText(string text, string source)
    {
        var schema = new NodeConfigSchema();
        TomlTable root;
        try
        {
            // Semantic validation first: the model reader lets a repeated key or table silently win.
            Tomlyn.Parsing.SyntaxParser.ParseStrict(text, source, validate: true);
            root = TomlSerializer.Deserialize<TomlTable>(text, new TomlSerializerOptions
            {
                SourceName = source,
                PropertyNamingPolicy = NodeConfigSchema.Naming,
                DuplicateKeyHandling = TomlDuplicateKeyHandling.Error,
            }) ?? new TomlTable();
        }
        catch (TomlException e)
        {
            throw new NodeConfigException("", $"{source}: not valid TOML: {e.Message}", e);
        }
        var values = new Dictionary<ConfigKey, object>();
        foreach (var (sectionName, sectionValue) in root)
        {
            if (!schema.HasSection(sectionName))
            {
                throw new NodeConfigException(sectionName, sectionValue is TomlTable
                    ? $"{source}: unknown section [{sectionName}] (known: {string.Join(", ", schema.SectionNames)})"
                    : $"{source}: {sectionName}: unknown key outside any section (keys belong in [{string.Join("], [", schema.SectionNames)}])");
            }
            if (sectionValue is not TomlTable section)
                throw new NodeConfigException(sectionName, $"{source}: {sectionName}: expected a [{sectionName}] table, found {NodeConfigSchema.DescribeValue(sectionValue)}");
            foreach (var (keyName, value) in section)
            {
                var key = schema.Find(sectionName, keyName)
                    ?? throw new NodeConfigException($"{sectionName}.{keyName}",
                        $"{source}: {sectionName}.{keyName}: unknown key (known in [{sectionName}]: {schema.KnownKeys(sectionName)})");
                values[key] = NodeConfigSchema.Convert(key, value)
                    ?? throw new NodeConfigException(key.FullName, $"{source}: {key.FullName}: expected {key.Describe()}, found {NodeConfigSchema.DescribeValue(value)}");
            }
        }
        return Bind(values);
    }

    /// <summary>The variables of this process that start with <see cref="EnvironmentPrefix"/>.</summary>
    public static IReadOnlyDictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) && entry.Value is string value)
                result[name] = value;
        }
        return result;
    }

    /// <summary>
    /// The <see cref="EnvironmentPrefix"/> variables of <paramref name="environment"/> as configuration keys
    /// <c>section:key</c>, each checked against the schema (an unknown key or a value of the wrong type names the variable).
    /// </summary>
    internal static Dictionary<string, string?> CheckEnvironment(IReadOnlyDictionary<string, string> environment, string prefix)
    {
        var schema = new NodeConfigSchema();
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, text) in environment.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (!name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase)) continue;
            var parts = name[EnvironmentPrefix.Length..].Split("__");
            var key = parts.Length == 2 ? schema.Find(parts[0].ToLowerInvariant(), parts[1].ToLowerInvariant()) : null;
            if (key is null)
            {
                throw new NodeConfigException(parts.Length == 2 ? $"{parts[0].ToLowerInvariant()}.{parts[1].ToLowerInvariant()}" : name,
                    $"environment {name}: no such configuration key (the form is {EnvironmentPrefix}SECTION__KEY, e.g. {EnvironmentPrefix}NETWORK__LISTEN)");
            }
            _ = NodeConfigSchema.ConvertText(key, text)
                ?? throw new NodeConfigException(key.FullName, $"environment {name}: {key.FullName}: expected {key.Describe()}, got '{text}'");
            // One value, lists comma-separated: it replaces a list the file gave as children (see NodeConfigBinder).
            data[prefix + key.Section + ConfigurationPath.KeyDelimiter + key.Name] = text;
        }
        return data;
    }

    private static NodeConfig Bind(Dictionary<ConfigKey, object> values)
    {
        var config = new NodeConfig();
        foreach (var (key, value) in values)
        {
            var section = key.SectionProperty.GetValue(config)!;
            key.Property.SetValue(section, value);
        }
        return config;
    }

    /// <summary>TOML text as a configuration source (for <see cref="Parse"/>).</summary>
    private sealed class TomlTextSource(string text, string source) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new TextProvider(text, source);

        private sealed class TextProvider(string text, string source) : ConfigurationProvider
        {
            public override void Load() => Data = TomlConfigurationProvider.ToData(ReadText(text, source), prefix: "");
        }
    }
}
