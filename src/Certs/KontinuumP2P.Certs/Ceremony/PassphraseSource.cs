namespace KontinuumP2P.Certs.Ceremony;

/// <summary>Reads a passphrase from a file (first line) or an environment variable — never from the command line.</summary>
public static class PassphraseSource
{
    /// <summary>Largest passphrase file read.</summary>
    public const int MaxFileLength = 4096;

    /// <summary>The default environment variable.</summary>
    public const string DefaultEnvironmentVariable = "KONTINUUM_PASSPHRASE";

    /// <summary>The passphrase from <paramref name="file"/> if given, else from <paramref name="environmentVariable"/>, else null.</summary>
    /// <exception cref="ArgumentException">The file is too large or the passphrase is empty.</exception>
    public static string? Read(string? file, string? environmentVariable)
    {
        if (file is not null)
        {
            var info = new FileInfo(file);
            if (!info.Exists) throw new FileNotFoundException($"passphrase file {file} does not exist", file);
            if (info.Length > MaxFileLength) throw new ArgumentException($"passphrase file {file} is over {MaxFileLength} bytes");
            var text = File.ReadAllText(file);
            var firstLine = text.Split('\n')[0].TrimEnd('\r');
            if (firstLine.Length == 0) throw new ArgumentException($"passphrase file {file} is empty");
            return firstLine;
        }
        var value = Environment.GetEnvironmentVariable(environmentVariable ?? DefaultEnvironmentVariable);
        return string.IsNullOrEmpty(value) ? null : value;
    }
}
