namespace KontinuumP2P.Benchmarks;

/// <summary>One bench command: <c>dotnet run -c Release --project tests/KontinuumP2P.Benchmarks -- NAME [args]</c>.</summary>
public interface IBench
{
    /// <summary>The command name.</summary>
    string Name { get; }

    /// <summary>One line saying what it measures and against which peer.</summary>
    string Description { get; }

    /// <summary>Runs the bench, printing a human table and, last, one JSON line with the figures.</summary>
    Task<int> RunAsync(string[] args, CancellationToken cancellationToken);
}
