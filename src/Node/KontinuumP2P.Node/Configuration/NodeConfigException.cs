namespace KontinuumP2P.Node.Configuration;

/// <summary>A node configuration that cannot be used; <see cref="Exception.Message"/> names the key and the problem.</summary>
public sealed class NodeConfigException : Exception
{
    /// <summary>Creates the exception for <paramref name="key"/> (<c>section.key</c>, or empty for the whole file).</summary>
    public NodeConfigException(string key, string message) : base(message) => Key = key;

    /// <summary>Creates the exception with its cause.</summary>
    public NodeConfigException(string key, string message, Exception inner) : base(message, inner) => Key = key;

    /// <summary>The offending key as <c>section.key</c> (empty when the file as a whole is the problem).</summary>
    public string Key { get; }
}
