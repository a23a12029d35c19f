using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Flushes a file being written to disk in the background each time another <c>every</c> bytes were written, so the
/// final fsync waits for the last few MiB rather than for everything (the writes themselves never wait for it). One
/// flush runs at a time; requests made while it runs fold into one. After each flush the file's clean pages are
/// dropped from the page cache (<see cref="PageCache"/>), so a long download recycles a few MiB of pages.
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
                RandomAccess.FlushToDisk(file);
                Flushes++;
                if (dropPages && PageCache.DropClean(file)) Drops++;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                return;
            }
        }
    }
}
