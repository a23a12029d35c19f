using System.Globalization;
using KontinuumP2P.Archive.Mailboxes;
using KontinuumP2P.Archive.Pushing;
using KontinuumP2P.Archive.Sinks;
using KontinuumP2P.Mailbox.Content;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

// Usage: CrashHost holder DIR — an archive holder on 127.0.0.1 (any peer may store), printing
// "listening ADDRESS/p2p/ID", serving until killed (HolderMode.cs).
if (args is ["holder", var holderDirectory]) return await HolderMode.RunAsync(holderDirectory);

// Usage: CrashHost STORE.db STATE.db SINK TARGET_PACK_BYTES [CONTENT_DIR]
// Archives every blob of the store's replica mailboxes (flushing: no waiting for size or age), and every complete
// content of CONTENT_DIR when given, printing "started", one "pack <id>" / "content <id>" line per archived object,
// and "done" when a round wrote nothing.
if (args.Length is not (4 or 5))
{
    Console.Error.WriteLine("usage: CrashHost STORE.db STATE.db SINK TARGET_PACK_BYTES [CONTENT_DIR]");
    return 2;
}
await using var store = await MailboxStore.OpenAsync(new MailboxStoreOptions { DatabasePath = args[0], Role = MailboxRole.Replica });
var contents = args.Length == 5 ? ContentStore.Open(new ContentStoreOptions { Directory = args[4] }) : null;
using var state = new PusherStateStore(args[1]);
await using var sink = ArchiveSinks.Open(args[2]);
var options = new ArchivePusherOptions { TargetPackBytes = long.Parse(args[3], CultureInfo.InvariantCulture), ReadBatchBlobs = 64, ReadBatchBytes = 256 << 10 };
using var pusher = new ArchivePusher(new MailboxStoreArchiveSource(store, contents), [sink], state, options, TimeProvider.System);
pusher.PackArchived += p => Console.WriteLine("pack " + p.PackId);
pusher.ContentArchived += c => Console.WriteLine("content " + Convert.ToHexStringLower(c.ContentId));
var failed = false;
pusher.MailboxFailed += (_, e) =>
{
    Console.Error.WriteLine(e);
    failed = true;
};
pusher.ContentFailed += (_, e) =>
{
    Console.Error.WriteLine(e);
    failed = true;
};
Console.WriteLine("started");
while (await pusher.RunOnceAsync(flush: true, CancellationToken.None) > 0 && !failed)
{
}
if (failed) return 3;
Console.WriteLine("done");
return 0;
