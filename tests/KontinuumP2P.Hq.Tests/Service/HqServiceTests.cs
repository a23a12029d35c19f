using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Audit;
using KontinuumP2P.Hq.Registry;
using KontinuumP2P.Mailbox.Health;
using Microsoft.Data.Sqlite;

namespace KontinuumP2P.Hq.Tests.Service;

public sealed class HqServiceTests
{
    private HqFixture _f = null!;

    [SetUp]
    public void SetUp() => _f = new HqFixture();

    [TearDown]
    public void TearDown() => _f.Dispose();

    [Test]
    public void Red_slot_is_replaced_from_the_spare_pool_on_another_provider_and_its_record_sequence_grows()
    {
        using var hq = _f.Open();
        var fleet = HqFixture.AddFleet(hq, 4, 2);
        var groups = Enumerable.Range(0, 6).Select(i => hq.AllocateGroup("test", $"g{i}", MailboxRole.Replica, "eu")).ToList();
        var spareIds = new List<string>();
        for (var p = 0; p < 4; p++)
        {
            var id = Ed25519Identity.Generate().PeerId.ToString();
            spareIds.Add(id);
            hq.Registry.AddSpare("test", new SpareEntry(id, $"p{p}", "eu", "/spares/" + id, null));
        }
        var victim = fleet.First(f => hq.Registry.GetSlot(f.Slot)!.AssignedGroups > 0);
        var before = hq.SlotRecordOf(victim.Slot);
        var reporters = fleet.Where(f => f.Slot != victim.Slot).Take(2).Select(f => f.Node).ToList();
        hq.OnAlert(reporters[0], new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        Assert.That(hq.Registry.GetSlot(victim.Slot)!.Status, Is.EqualTo(SlotStatus.Active));
        hq.OnAlert(reporters[1], new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        Assert.That(hq.Registry.GetSlot(victim.Slot)!.Status, Is.EqualTo(SlotStatus.Down));
        Assert.That(hq.Status().Mailboxes.Single(m => m.Slot == victim.Slot).State, Is.EqualTo("red"));

        var replaced = hq.ReplaceDownSlots("hq");
        Assert.That(replaced, Has.Count.EqualTo(1));
        var (replacement, record) = replaced[0];
        var entry = hq.Registry.GetSlot(victim.Slot)!;
        Assert.That(entry.NodeId, Is.EqualTo(replacement.Spare.Id));
        Assert.That(entry.Status, Is.EqualTo(SlotStatus.Active));
        Assert.That(record.Sequence, Is.EqualTo(before.Sequence + 1));
        Assert.That(record.NodeId.ToString(), Is.EqualTo(replacement.Spare.Id));
        Assert.That(Allocator.IsDiverse([.. hq.Registry.Slots().Select(s => s.ToInfo())], hq.Registry.Groups()), Is.True);
        Assert.That(hq.Status().Mailboxes.Single(m => m.Slot == victim.Slot).State, Is.EqualTo("green"));
        Assert.That(AuditLog.Verify(hq.Database, hq.PublicKey).IsValid, Is.True);
        Assert.That(hq.Audit.Tail(50).Select(e => e.Action), Does.Contain("slot.replace").And.Contain("slot.level").And.Contain("group.allocate"));
    }

    [TestCase("UPDATE audit SET detail = replace(detail, 'g1', 'g9') WHERE seq = 4", "edited")]
    [TestCase("DELETE FROM audit WHERE seq = 2", "removed or inserted")]
    [TestCase("UPDATE audit SET actor = 'someone' WHERE seq = 1", "edited")]
    [TestCase("UPDATE audit SET signature = (SELECT signature FROM audit WHERE seq = 1) WHERE seq = 4", "signature")]
    public void Audit_verify_detects_any_edit(string tamper, string problem)
    {
        string dataDir;
        byte[] key;
        using (var hq = _f.Open())
        {
            HqFixture.AddFleet(hq, 3, 1);
            hq.AllocateGroup("test", "g1", MailboxRole.Replica, null);
            hq.Audit.Append("test", "note", "{}");
            var ok = AuditLog.Verify(hq.Database, hq.PublicKey);
            Assert.That(ok.IsValid, Is.True);
            Assert.That(ok.Entries, Is.EqualTo(5));
            dataDir = _f.DataDir();
            key = hq.PublicKey;
        }
        using (var raw = new SqliteConnection($"Data Source={Path.Combine(dataDir, HqDatabase.FileName)};Pooling=false"))
        {
            raw.Open();
            using var cmd = raw.CreateCommand();
            cmd.CommandText = tamper;
            Assert.That(cmd.ExecuteNonQuery(), Is.EqualTo(1));
        }
        using var db = HqDatabase.Open(dataDir);
        var result = AuditLog.Verify(db, key);
        Assert.That(result.IsValid, Is.False);
        Assert.That(result.Problem, Does.Contain(problem));
    }

    [Test]
    public void Audit_verify_refuses_another_key()
    {
        using var hq = _f.Open();
        hq.Audit.Append("test", "note", "{}");
        using var other = Ed25519Identity.Generate();
        Assert.That(AuditLog.Verify(hq.Database, other.PublicKey).Problem, Does.Contain("signature"));
    }

    [Test]
    public void A_restored_hq_carries_on_from_its_backup()
    {
        var backup = Path.Combine(_f.Directory, "backup", "hq-backup.db");
        List<(string Slot, PeerId Node, string Provider)> fleet;
        using (var hq = _f.Open())
        {
            fleet = HqFixture.AddFleet(hq, 3, 2);
            hq.AllocateGroup("test", "g1", MailboxRole.Replica, null);
            hq.Database.BackupTo(backup);
            Assert.Throws<IOException>(() => hq.Database.BackupTo(backup), "a backup never overwrites");
            hq.AllocateGroup("test", "after-backup", MailboxRole.Replica, null); // lost with the original
        }
        Directory.Delete(_f.DataDir(), recursive: true); // the original HQ is gone
        HqDatabase.RestoreFrom(backup, _f.DataDir("restored")).Dispose();
        Assert.Throws<IOException>(() => HqDatabase.RestoreFrom(backup, _f.DataDir("restored")));
        using var restored = _f.Open("restored");
        Assert.That(restored.Registry.Groups().Select(g => g.GroupId), Is.EqualTo(new[] { "g1" }));
        Assert.That(restored.Registry.Slots(), Has.Count.EqualTo(6));
        var auditBefore = AuditLog.Verify(restored.Database, restored.PublicKey);
        Assert.That(auditBefore.IsValid, Is.True);
        // It carries on: escalation state rebuilt from the registry, allocation and the audit chain continue.
        var victim = fleet[0];
        restored.OnAlert(fleet[2].Node, new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        restored.OnAlert(fleet[3].Node, new HealthTarget(victim.Slot, victim.Node), HealthLevel.Red);
        Assert.That(restored.Registry.GetSlot(victim.Slot)!.Status, Is.EqualTo(SlotStatus.Down));
        restored.AllocateGroup("test", "g2", MailboxRole.Replica, null);
        var auditAfter = AuditLog.Verify(restored.Database, restored.PublicKey);
        Assert.That(auditAfter.IsValid, Is.True);
        Assert.That(auditAfter.Entries, Is.GreaterThan(auditBefore.Entries));
    }

    [Test]
    public void Config_binds_snake_case_toml_and_names_bad_keys()
    {
        var options = HqConfigLoader.Parse("""
            [hq]
            data_directory = "/var/lib/hq"
            network = "genesis.json"
            [admin]
            listen = "http://127.0.0.1:9000"
            requests_per_minute = 5
            [escalation]
            red_confirmations = 3
            black_window_seconds = 60.5
            [health]
            yellow_report_threshold = 2
            """, "hq.toml");
        Assert.That(options.DataDirectory, Is.EqualTo("/var/lib/hq"));
        Assert.That(options.Admin.RequestsPerMinute, Is.EqualTo(5));
        Assert.That(options.Escalation.ToOptions().RedConfirmations, Is.EqualTo(3));
        Assert.That(options.Escalation.ToOptions().BlackWindow, Is.EqualTo(TimeSpan.FromSeconds(60.5)));
        Assert.That(options.Health.ToOptions().YellowReportThreshold, Is.EqualTo(2));
        Assert.That(() => HqConfigLoader.Parse("[admin]\nlisten = \"http://0.0.0.0:9000\"", "hq.toml"),
            Throws.ArgumentException.With.Message.Contains("allow_remote"));
        Assert.That(() => HqConfigLoader.Parse("[admin]\nlisten = \"http://0.0.0.0:9000\"\nallow_remote = true", "hq.toml").Admin.AllowRemote, Is.True);
        Assert.That(() => HqConfigLoader.Parse("[admin]\nlisten_port = 4", "hq.toml"), Throws.ArgumentException.With.Message.Contains("ListenPort"));
        Assert.That(() => HqConfigLoader.Parse("[escalation]\nred_confirmations = 0", "hq.toml"), Throws.ArgumentException.With.Message.Contains("RedConfirmations"));
        Assert.That(() => HqConfigLoader.Parse("not toml [", "hq.toml"), Throws.ArgumentException.With.Message.Contains("not valid TOML"));
    }
}
