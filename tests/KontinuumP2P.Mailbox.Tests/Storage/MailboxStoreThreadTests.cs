using System.Collections.Concurrent;
using KontinuumP2P.Mailbox.Storage;

namespace KontinuumP2P.Mailbox.Tests.Storage;

/// <summary>
/// The store's blocking loops (writer, WAL flush, background checkpoint) run on threads of their own, never on
/// thread-pool threads, come back to them after an await, and end when the store is disposed.
/// </summary>
[TestFixture]
public sealed class MailboxStoreThreadTests : StoreDirectoryTest
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Test]
    public async Task Writer_flush_and_checkpoint_run_on_their_own_threads_and_stop_at_dispose()
    {
        var seen = new ConcurrentDictionary<string, Thread>();
        var pooled = new ConcurrentBag<string>();
        void Record(string what)
        {
            var thread = Thread.CurrentThread;
            if (thread.IsThreadPoolThread) pooled.Add(what);
            seen.TryAdd(what + ":" + thread.Name, thread);
        }
        var checkpointed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var store = await MailboxStore.OpenAsync(new MailboxStoreOptions
        {
            DatabasePath = Path.Combine(StoreDirectory, "t.db"), BackgroundCleanup = false, CheckpointInterval = TimeSpan.FromMilliseconds(5),
        });
        try
        {
            store.Committed = _ => Record("commit");
            // The hook's await completes on a timer (pool) thread: the release after it must still run on the flush thread.
            store.BeforeFlush = async _ =>
            {
                Record("before-flush");
                await Task.Delay(1);
            };
            store.Grown = _ => Record("release");
            store.Checkpointed = () =>
            {
                Record("checkpoint");
                checkpointed.TrySetResult();
            };
            var c = Credentials.Random();
            var handle = (await store.OpenMailboxAsync(c.MailboxId, c.Capability, c.DeviceId, c.ArchiveKey, CancellationToken.None)).Handle;
            for (var i = 0; i < 20; i++)
            {
                var blob = Blobs.Make();
                await store.PushAsync(handle, blob.Id, blob.Data, TimeSpan.Zero, CancellationToken.None).WaitAsync(Wait);
            }
            await checkpointed.Task.WaitAsync(Wait);
        }
        finally
        {
            await store.DisposeAsync();
        }

        Assert.That(pooled, Is.Empty, "no store loop ran on a thread-pool thread");
        Assert.That(seen.Keys, Is.SupersetOf(new[] { "commit:mailbox-writer", "before-flush:mailbox-flush", "release:mailbox-flush", "checkpoint:mailbox-checkpoint" }));
        foreach (var (what, thread) in seen)
            Assert.That(thread.Join(Wait), Is.True, $"{what}'s thread ended after dispose");
    }
}
