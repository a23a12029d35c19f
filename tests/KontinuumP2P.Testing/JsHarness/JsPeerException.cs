namespace KontinuumP2P.Testing.JsHarness;

/// <summary>A js harness command failed, timed out, or the process died; the message carries its stderr tail and last events.</summary>
public sealed class JsPeerException : Exception
{
    /// <summary>Creates the exception.</summary>
    public JsPeerException(string message, string stderrTail, Exception? inner = null)
        : base(Compose(message, stderrTail), inner)
    {
        StderrTail = stderrTail;
    }

    /// <summary>The last lines the js process wrote to stderr, then its last events.</summary>
    public string StderrTail { get; }

    private static string Compose(string message, string stderrTail) =>
        stderrTail.Length == 0 ? message : $"{message}{Environment.NewLine}--- js stderr (tail) and last events ---{Environment.NewLine}{stderrTail}";
}
