using Microsoft.Extensions.Configuration;

namespace KontinuumP2P.Node.Configuration;

/// <summary>
/// Reads a <see cref="NodeConfig"/> from any <see cref="IConfiguration"/> section (node.toml through
/// <see cref="TomlConfigurationSource"/>, <c>KONTINUUM__SECTION__KEY</c> variables, appsettings.json, in-memory …):
/// keys are <c>section:key</c> in node.toml's snake_case (case-insensitive); lists are children <c>:0</c>, <c>:1</c> or
/// one comma-separated value (which wins over children). Unknown sections and keys fail, as in node.toml.
/// </summary>
public static class NodeConfigBinder
{
    /// <summary>Binds <paramref name="configuration"/> (the section holding <c>identity</c>, <c>network</c> …).</summary>
    /// <exception cref="NodeConfigException">An unknown key or a value of the wrong type; the message names <c>section.key</c>.</exception>
    public static NodeConfig Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var schema = new NodeConfigSchema();
        var config = new NodeConfig();
        foreach (var section in configuration.GetChildren())
        {
            var sectionName = section.Key.ToLowerInvariant();
            if (!schema.HasSection(sectionName))
                throw new NodeConfigException(sectionName, $"configuration: unknown section '{section.Key}' (known: {string.Join(", ", schema.SectionNames)})");
            foreach (var entry in section.GetChildren())
            {
                var key = schema.Find(sectionName, entry.Key.ToLowerInvariant())
                    ?? throw new NodeConfigException($"{sectionName}.{entry.Key}",
                        $"configuration: {sectionName}.{entry.Key}: unknown key (known in [{sectionName}]: {schema.KnownKeys(sectionName)})");
                var children = entry.GetChildren().ToList();
                if (entry.Value is null && children.Count == 0) continue; // a key with no value is an absent key: its default holds
                // A list given as one (comma-separated) value beats one given as children: that is how an environment
                // variable overrides a list from node.toml, whose children it cannot remove.
                object? value = key.Kind == ConfigValueKind.TextList && children.Count > 0 && entry.Value is null
                    ? (IList<string>)[.. children.OrderBy(c => int.TryParse(c.Key, out var i) ? i : int.MaxValue).Select(c => c.Value ?? "")]
                    : entry.Value is { } text ? NodeConfigSchema.ConvertText(key, text) : null;
                if (value is null)
                    throw new NodeConfigException(key.FullName, $"configuration: {key.FullName}: expected {key.Describe()}, got '{entry.Value}'");
                key.Property.SetValue(key.SectionProperty.GetValue(config), value);
            }
        }
        return config;
    }
}
