using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Escalation;
using KontinuumP2P.Devnet;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Hq.Tests.Service;

/// <summary>A devnet authority, an HQ identity with the hq capability, and a temporary data directory.</summary>
internal sealed class HqFixture : IDisposable
{
    public HqFixture(int anchors = 1, int threshold = 1)
    {
        Directory = Path.Combine(Path.GetTempPath(), "hq-test-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Authority = new DevnetAuthority("lab", anchors, threshold, Time);
        Key = Ed25519Identity.Generate();
        Certificate = Authority.IssueCertificate(Key, TimeSpan.FromDays(30), ["dht", "hq"]);
    }

    // Starts at the real time (whole seconds): some tests check certificates issued on this clock against the real
    // clock (nodes on real sockets), and a fixed start date made them fail once a day had passed since it.
    public FakeTimeProvider Time { get; } = new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
    public string Directory { get; }
    public DevnetAuthority Authority { get; }
    public Ed25519Identity Key { get; }
    public Certificate Certificate { get; }

    public string DataDir(string name = "data") => Path.Combine(Directory, name);

    public HqService Open(string name = "data") => new(DataDir(name), Key, Certificate, new EscalationOptions(), Time);

    /// <summary>Registers <paramref name="perProvider"/> slots on each of <paramref name="providers"/> providers.</summary>
    public static List<(string Slot, PeerId Node, string Provider)> AddFleet(HqService hq, int providers, int perProvider)
    {
        var list = new List<(string, PeerId, string)>();
        for (var p = 0; p < providers; p++)
        {
            for (var i = 0; i < perProvider; i++)
            {
                var node = Ed25519Identity.Generate().PeerId;
                var slot = $"mbx-p{p}-{i}";
                hq.RegisterSlot("test", slot, node, $"p{p}", "eu", MailboxRole.Replica, 100);
                list.Add((slot, node, $"p{p}"));
            }
        }
        return list;
    }

    public void Dispose()
    {
        Key.Dispose();
        Authority.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
