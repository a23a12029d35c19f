using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Mailbox.Tests.Content;

/// <summary>
/// A download's partial file leaves the page cache as it is flushed: the writeback pacer drops the flushed pages, so
/// a long download recycles a few MiB of pages instead of taking fresh memory for every MiB it writes. Residency is
/// read from the kernel (mincore over a mapping of the file, which does not fault pages in).
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class ContentPageCacheTests
{
    private const int PageSize = 4096;
    private const int Block = 64 << 10;
    private const int Blocks = 32;

    [TestCase(true)]
    [TestCase(false)]
    public async Task Flushed_pages_leave_the_page_cache_only_when_the_pacer_drops_them(bool drop, CancellationToken ct)
    {
        Assume.That(OperatingSystem.IsLinux(), "posix_fadvise and mincore are Linux calls here");
        // Beside the test binaries (a disk file system): tmpfs pages cannot be dropped.
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "kp-pagecache-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous);
            RandomAccess.SetLength(handle, (long)Block * Blocks);
            var pacer = new WritebackPacer(handle, every: 4 * Block, drop);
            var flushing = pacer.RunAsync();
            var data = new byte[Block];
            new Random(5).NextBytes(data);
            for (var i = 0; i < Blocks; i++)
            {
                RandomAccess.Write(handle, data, (long)i * Block);
                pacer.Wrote(Block);
            }
            pacer.Complete();
            await flushing.WaitAsync(ct);
            // The tail written after the last background flush: flushed now, as the download's end does.
            RandomAccess.FlushToDisk(handle);
            var written = Blocks * Block / PageSize;
            var cachedBefore = ResidentPages(handle);
            var dropped = drop && PageCache.DropClean(handle);
            var cachedAfter = ResidentPages(handle);

            Assert.That(pacer.Flushes, Is.GreaterThan(0));
            if (drop)
            {
                Assert.That(pacer.Drops, Is.GreaterThan(0), "the kernel took the advice after a background flush");
                Assert.That(dropped, Is.True);
                Assert.That(cachedAfter, Is.LessThan(written / 10), $"clean pages leave the cache once dropped ({cachedBefore} cached before the last drop)");
            }
            else
            {
                Assert.That(pacer.Drops, Is.Zero);
                Assert.That(cachedBefore, Is.EqualTo(written), "without the drop every written page stays cached");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int ResidentPages(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        var length = RandomAccess.GetLength(handle);
        using var map = MemoryMappedFile.CreateFromFile(handle, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        using var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        var pages = new byte[(length + PageSize - 1) / PageSize];
        var address = view.SafeMemoryMappedViewHandle.DangerousGetHandle() + (nint)view.PointerOffset;
        if (mincore(address, (nuint)length, pages) != 0) throw new IOException($"mincore failed: {Marshal.GetLastPInvokeError()}");
        return pages.Count(p => (p & 1) != 0);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mincore(nint address, nuint length, byte[] vector);
}
