using System.Text.Json;

namespace KontinuumP2P.Testing;

/// <summary>Loads the official test vectors kept in <c>../shared/vectors/</c> beside the project root.</summary>
public static class SharedVectors
{
    /// <summary>The vectors folder, found by walking up from the test binaries to the folder holding the solution.</summary>
    public static string Directory
    {
        get
        {
            var root = RepositoryRoot;
            var path = Path.GetFullPath(Path.Combine(root, "..", "shared", "vectors"));
            if (!System.IO.Directory.Exists(path))
                throw new DirectoryNotFoundException($"shared test vectors not found at {path}");
            return path;
        }
    }

    /// <summary>The repository root (the folder with KontinuumP2P.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            // The build stamps the checkout it was built from, so artifacts outside the tree still find it.
            var stamped = typeof(SharedVectors).Assembly
                .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
                .OfType<System.Reflection.AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "KontinuumRepositoryRoot")?.Value;
            if (stamped is not null && File.Exists(Path.Combine(stamped, "KontinuumP2P.sln"))) return Path.GetFullPath(stamped);
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "KontinuumP2P.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("KontinuumP2P.sln not found above the test binaries");
        }
    }

    /// <summary>Full path of a vector file.</summary>
    public static string PathOf(string fileName) => Path.Combine(Directory, fileName);

    /// <summary>Parses a vector file as JSON.</summary>
    public static JsonDocument LoadJson(string fileName) => JsonDocument.Parse(File.ReadAllText(PathOf(fileName)));
}
