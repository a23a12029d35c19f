using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Mailbox.Tests.Storage;

/// <summary>
/// Base of the store tests on real SQLite files: a fresh directory per test, deleted after it once SQLite's pooled
/// connections are closed (an open connection would keep the files).
/// </summary>
public abstract class StoreDirectoryTest
{
    /// <summary>The test's own directory.</summary>
    protected string StoreDirectory { get; private set; } = null!;

    [SetUp]
    public void CreateStoreDirectory()
    {
        StoreDirectory = Path.Combine(Path.GetTempPath(), "kp-mbx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(StoreDirectory);
    }

    [TearDown]
    public void DeleteStoreDirectory()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(StoreDirectory, true);
    }
}
