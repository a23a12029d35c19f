using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Sends a file being written to disk in the background each time another <c>every</c> bytes were written, so the
/// final fsync waits for the last few MiB rather than for everything (the writes themselves never wait for it). One
/// flush runs at a time; requests made while it runs fold into one. With <c>dropPages</c> a flush is one
/// <see cref="PageCache.DropClean"/>: it drops the pages already on disk (a long download recycles a few MiB of pages)
/// and starts the writeback of the rest without waiting for it, so no pool thread sits in an fsync (one did for
/// 0.7 s of every 4 downloads). Without it, a flush is an fsync, as before.
/// </summary>
internal sealed class WritebackPacer(SafeFileHandle file, long every, bool dropPages = true)
{
    private readonly Channel<bool> _due = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _written;
    private long _requested;

    /// <summary>Flushes done so far.</summary>
    public int Flushes { get; private set; }

    /// <summary>Flushes after which the kernel took the advice to drop the flushed pages.</summary>
    public int Drops { get; private set; }

    /// <summary>Counts <paramref name="bytes"/> written; asks for a flush once <c>every</c> more have been.</summary>
    public void Wrote(int bytes)
    {
        var written = Interlocked.Add(ref _written, bytes);
        var requested = Volatile.Read(ref _requested);
        if (written - requested >= every && Interlocked.CompareExchange(ref _requested, written, requested) == requested) _due.Writer.TryWrite(true);
    }

    /// <summary>No more writes: <see cref="RunAsync"/> ends after the flush in progress.</summary>
    public void Complete() => _due.Writer.TryComplete();

    /// <summary>The flushing loop, until <see cref="Complete"/>. A failed flush is left to the final one, which reports it.</summary>
    public async Task RunAsync()
    {
        await foreach (var _ in _due.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                if (dropPages && PageCache.DropClean(file))
                {
                    Drops++;
                }
                else
                {
                    RandomAccess.FlushToDisk(file);
                }
                Flushes++;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                return;
            }
        }
    }
}
