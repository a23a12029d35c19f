using Microsoft.Extensions.Configuration;
using Tomlyn;
using Tomlyn.Model;

namespace KontinuumP2P.Hq;

/// <summary>
/// Reads <c>hq.toml</c> into <see cref="HqOptions"/>: TOML keys in snake_case (<c>[admin] allow_remote</c>), then
/// environment overrides <c>KONTINUUM_HQ__SECTION__KEY</c>; unknown keys are errors that name the key.
/// </summary>
public static class HqConfigLoader
{
    /// <summary>Prefix of environment overrides.</summary>
    public const string EnvironmentPrefix = "KONTINUUM_HQ__";

    /// <summary>Largest configuration file read.</summary>
    public const int MaxFileLength = 64 * 1024;

    /// <summary>Loads and validates the file; relative paths in it are resolved against its folder.</summary>
    /// <exception cref="ArgumentException">Malformed, unknown key or invalid value; the message names it.</exception>
    public static HqOptions Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new ArgumentException($"{path}: configuration file does not exist");
        if (info.Length > MaxFileLength) throw new ArgumentException($"{path}: configuration file is over {MaxFileLength} bytes");
        var options = Parse(File.ReadAllText(path), path);
        var dir = info.DirectoryName!;
        options.DataDirectory = Path.GetFullPath(options.DataDirectory, dir);
        options.KeyFile = Path.GetFullPath(options.KeyFile, dir);
        options.CertificateFile = Path.GetFullPath(options.CertificateFile, dir);
        if (options.Network != "mainnet" && options.Network != "open") options.Network = Path.GetFullPath(options.Network, dir);
        options.Admin.AnchorKeyFiles = [.. options.Admin.AnchorKeyFiles.Select(f => Path.GetFullPath(f, dir))];
        if (options.NodeConfig.Length > 0) options.NodeConfig = Path.GetFullPath(options.NodeConfig, dir);
        foreach (var spare in options.Fleet.Spares) spare.Directory = Path.GetFullPath(spare.Directory, dir);
        return options;
    }

    /// <summary>Parses TOML text (with environment overrides) and validates it.</summary>
    /// <exception cref="ArgumentException">Malformed, unknown key or invalid value.</exception>
    public static HqOptions Parse(string text, string source)
    {
        TomlTable root;
        try
        {
            root = TomlSerializer.Deserialize<TomlTable>(text) ?? new TomlTable();
        }
        catch (TomlException e)
        {
            throw new ArgumentException($"{source}: not valid TOML: {e.Message}", e);
        }
        var pairs = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(root, "", pairs);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(pairs)
            .AddEnvironmentVariables(EnvironmentPrefix)
            .Build();
        var options = new HqOptions();
        try
        {
            configuration.Bind(options, o => o.ErrorOnUnknownConfiguration = true);
            options.Validate();
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"{source}: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{source}: {e.Message}", e);
        }
        return options;
    }

    private static void Flatten(TomlTable table, string prefix, Dictionary<string, string?> pairs)
    {
        foreach (var (key, value) in table)
        {
            var name = prefix + Pascal(key);
            switch (value)
            {
                case TomlTable hq when prefix.Length == 0 && key == "hq":
                    Flatten(hq, "", pairs);
                    break;
                case TomlTable t:
                    Flatten(t, name + ":", pairs);
                    break;
                case TomlTableArray tables:
                    for (var i = 0; i < tables.Count; i++) Flatten(tables[i], $"{name}:{i}:", pairs);
                    break;
                case TomlArray array:
                    for (var i = 0; i < array.Count; i++)
                    {
                        pairs[$"{name}:{i}"] = array[i] is IFormattable af
                            ? af.ToString(null, System.Globalization.CultureInfo.InvariantCulture)
                            : array[i]?.ToString();
                    }
                    break;
                case IFormattable f:
                    pairs[name] = f.ToString(null, System.Globalization.CultureInfo.InvariantCulture);
                    break;
                default:
                    pairs[name] = value?.ToString();
                    break;
            }
        }
    }

    // Sections and keys are snake_case in TOML; the options are PascalCase (hq section keys sit at the top level).
    private static string Pascal(string key) =>
        string.Concat(key.Split('_').Select(p => p.Length == 0 ? p : char.ToUpperInvariant(p[0]) + p[1..]));
}
