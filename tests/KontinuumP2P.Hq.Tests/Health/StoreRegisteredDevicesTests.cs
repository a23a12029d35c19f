using KontinuumP2P.Mailbox.Health;
using KontinuumP2P.Mailbox.Storage;

namespace KontinuumP2P.Hq.Tests.Health;

public sealed class StoreRegisteredDevicesTests
{
    [Test]
    [CancelAfter(30_000)]
    public async Task Only_a_device_registered_with_the_right_capability_counts(CancellationToken ct)
    {
        var dir = Path.Combine(Path.GetTempPath(), "hq-store-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var options = new MailboxStoreOptions { DatabasePath = Path.Combine(dir, "mailbox.db") };
            await using (var store = await MailboxStore.OpenAsync(options, TimeProvider.System, cancellationToken: ct))
            {
                var mailbox = new byte[32];
                mailbox[0] = 1;
                var cap = new byte[32];
                cap[0] = 2;
                var device = new byte[16];
                device[0] = 3;
                await store.OpenMailboxAsync(mailbox, cap, device, ReadOnlyMemory<byte>.Empty, ct);
                using var registered = new StoreRegisteredDevices(options);
                Assert.That(await registered.IsRegisteredAsync(mailbox, cap, device, ct), Is.True);
                var otherCap = (byte[])cap.Clone();
                otherCap[31] = 9;
                Assert.That(await registered.IsRegisteredAsync(mailbox, otherCap, device, ct), Is.False);
                var otherDevice = (byte[])device.Clone();
                otherDevice[15] = 9;
                Assert.That(await registered.IsRegisteredAsync(mailbox, cap, otherDevice, ct), Is.False);
                Assert.That(await registered.IsRegisteredAsync(new byte[32], cap, device, ct), Is.False);
                Assert.That(await registered.IsRegisteredAsync(mailbox, cap, new byte[3], ct), Is.False);
                Assert.That(store.Statistics.Mailboxes, Is.EqualTo(1), "the check created nothing");
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, true);
        }
    }
}
