using KontinuumP2P.Mailbox.Content;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Archive.Tests.Contents;

/// <summary>Content expiry on a replica honours the archive hold: an unarchived complete content outlives its TTL, for a bounded time.</summary>
public sealed class ContentArchiveHoldTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("kp-content-hold-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public async Task An_unarchived_content_is_kept_past_its_ttl_until_archived_or_the_hold_runs_out()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var archived = new HashSet<string>();
        var store = ContentStore.Open(new ContentStoreOptions
        {
            Directory = Path.Combine(_dir, "content"),
            Ttl = TimeSpan.FromHours(1),
            MaxArchiveHold = TimeSpan.FromDays(1),
            ArchiveHold = id => { lock (archived) return !archived.Contains(id.ToHex()); },
        }, time);
        var random = new Random(5);
        var a = await TestContents.AddAsync(store, random, 40_000, 8 << 10, "a.bin");
        var b = await TestContents.AddAsync(store, random, 30_000, 8 << 10, "b.bin");
        // A partial upload can never be archived whole: the hold does not keep it.
        var partial = await TestContents.AddAsync(store, random, 30_000, 8 << 10, "p.bin", chunks: 1);

        time.Advance(TimeSpan.FromMinutes(30));
        Assert.That(store.RemoveExpired(), Is.Zero, "nothing expired yet");
        time.Advance(TimeSpan.FromHours(1));
        Assert.That(store.RemoveExpired(), Is.EqualTo(1), "only the partial content goes at its TTL");
        Assert.That(store.Find(partial.Manifest.Id), Is.Null);
        Assert.That(store.ArchiveHeld, Is.EqualTo(2));
        Assert.That(store.Find(a.Manifest.Id), Is.Not.Null);

        // Once the pusher archived a, it expires at the next pass; b stays held.
        lock (archived) archived.Add(a.Manifest.Id.ToHex());
        Assert.That(store.RemoveExpired(), Is.EqualTo(1));
        Assert.That(store.Find(a.Manifest.Id), Is.Null);
        Assert.That((store.Find(b.Manifest.Id) is not null, store.ArchiveHeld), Is.EqualTo((true, 1L)));

        // The hold is bounded: a day past its TTL b goes even though the archive never got it.
        time.Advance(TimeSpan.FromDays(1));
        Assert.That(store.RemoveExpired(), Is.EqualTo(1));
        Assert.That(store.Find(b.Manifest.Id), Is.Null);
        Assert.That(store.ArchiveHeld, Is.Zero);
    }
}
