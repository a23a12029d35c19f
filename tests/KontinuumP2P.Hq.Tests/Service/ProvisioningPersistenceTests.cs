using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Provisioning;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Tests.Service;

/// <summary>
/// Provisioning failures live in HQ's SQLite file: an HQ restarted on the same file (or restored from a backup)
/// keeps the doubled backoff and never hands the slot a spare that already failed.
/// </summary>
[TestFixture]
public sealed class ProvisioningPersistenceTests
{
    private static readonly ProvisioningRetryOptions Retry = new() { MaxAttempts = 4, FirstDelay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromMinutes(10) };

    [Test]
    public void Two_failures_then_a_restart_keep_the_doubled_backoff_and_the_third_attempt_uses_a_fresh_spare()
    {
        using var fixture = new HqFixture();
        string victim;
        var failedSpares = new List<string>();
        var backup = Path.Combine(fixture.Directory, "hq-backup.db");
        using (var hq = fixture.Open())
        {
            hq.ProvisioningRetry = Retry;
            var fleet = HqFixture.AddFleet(hq, providers: 3, perProvider: 1);
            for (var p = 3; p < 8; p++)
                hq.Registry.AddSpare("test", new SpareEntry(Ed25519Identity.Generate().PeerId.ToString(), $"p{p}", "eu", "/nonexistent", null));
            victim = fleet[0].Slot;
            hq.OnAlert(fleet[1].Node, new HealthTarget(victim, fleet[0].Node), HealthLevel.Red);
            hq.OnAlert(fleet[2].Node, new HealthTarget(victim, fleet[0].Node), HealthLevel.Red);

            failedSpares.Add(hq.ReplaceDownSlots("hq").Single().Replacement.Spare.Id);
            Assert.That(hq.ProvisionFailed("hq", victim, failedSpares[0], "did not start").RetryAt, Is.EqualTo(fixture.Time.GetUtcNow() + TimeSpan.FromSeconds(30)));
            fixture.Time.Advance(TimeSpan.FromSeconds(30));
            failedSpares.Add(hq.ReplaceDownSlots("hq").Single().Replacement.Spare.Id);
            Assert.That(hq.ProvisionFailed("hq", victim, failedSpares[1], "did not start").RetryAt, Is.EqualTo(fixture.Time.GetUtcNow() + TimeSpan.FromSeconds(60)));
            hq.Database.BackupTo(backup);
        }

        // Restart on the same file (the in-memory state is gone, the 60 s backoff is not), and a restore of the
        // backup taken before it: both carry the attempts.
        HqDatabase.RestoreFrom(backup, fixture.DataDir("restored")).Dispose();
        using var restarted = fixture.Open();
        using var restored = fixture.Open("restored");
        HqService[] both = [restarted, restored];
        foreach (var hq in both) hq.ProvisioningRetry = Retry;
        fixture.Time.Advance(TimeSpan.FromSeconds(60) - TimeSpan.FromTicks(1));
        foreach (var hq in both) Assert.That(hq.ReplaceDownSlots("hq"), Is.Empty, "a tick before the doubled backoff");
        fixture.Time.Advance(TimeSpan.FromTicks(1));
        foreach (var hq in both)
        {
            var third = hq.ReplaceDownSlots("hq").Single();
            Assert.That(third.Replacement.Slot, Is.EqualTo(victim));
            Assert.That(failedSpares, Does.Not.Contain(third.Replacement.Spare.Id), "a fresh spare");
            // The count carried over too: this failure is attempt 3, with a 120 s backoff.
            var failure = hq.ProvisionFailed("hq", victim, third.Replacement.Spare.Id, "did not start");
            Assert.That((failure.Attempt, failure.RetryAt), Is.EqualTo((3, (DateTimeOffset?)(fixture.Time.GetUtcNow() + TimeSpan.FromSeconds(120)))));
        }
        // A success clears the row, so the next HQ starts with no failures for the slot.
        restarted.ProvisionSucceeded(victim);
        Assert.That(restarted.Database.Read(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*) FROM provision_attempts";
            return (long)cmd.ExecuteScalar()!;
        }), Is.Zero);
    }

    [Test]
    public void A_version_1_database_is_migrated_on_open()
    {
        using var fixture = new HqFixture();
        using (var db = HqDatabase.Open(fixture.DataDir()))
        {
            db.InTransaction((c, tx) =>
            {
                HqDatabase.Execute(c, "DROP TABLE provision_attempts; UPDATE meta SET value = '1' WHERE key = 'schema';", tx);
                return 0;
            });
        }
        using (var hq = fixture.Open())
        {
            hq.ProvisioningRetry = Retry;
            var fleet = HqFixture.AddFleet(hq, providers: 1, perProvider: 1);
            Assert.That(hq.ProvisionFailed("hq", fleet[0].Slot, "spare", "x").Attempt, Is.EqualTo(1));
        }
        using var reopened = HqDatabase.Open(fixture.DataDir());
        var (schema, rows) = reopened.Read(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT (SELECT value FROM meta WHERE key = 'schema'), (SELECT COUNT(*) FROM provision_attempts)";
            using var r = cmd.ExecuteReader();
            r.Read();
            return (r.GetString(0), r.GetInt64(1));
        });
        Assert.That((schema, rows), Is.EqualTo(("3", 1L)));
        SqliteConnection.ClearAllPools();
    }
}
