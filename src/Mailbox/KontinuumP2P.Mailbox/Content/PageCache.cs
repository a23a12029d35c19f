using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Lets the kernel drop a file's clean pages from the page cache (posix_fadvise DONTNEED; Linux only, a no-op
/// elsewhere). A download writes its file once and does not read it back: once a range is on disk its pages are
/// better given back, so the next writes reuse pages the kernel already has instead of taking never-touched memory
/// (on this project's VMs a first touch of guest memory costs 4× the copy itself).
/// </summary>
internal static partial class PageCache
{
    private const int DontNeed = 4;

    /// <summary>Asks the kernel to drop the clean cached pages of <paramref name="file"/>; dirty ones start their writeback.</summary>
    /// <returns>Whether the advice was taken (false off Linux or when the file system refuses it).</returns>
    public static bool DropClean(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux() || file.IsClosed) return false;
        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            // Advice, not a promise: a refusal (e.g. ESPIPE) only leaves the pages cached as before.
            return posix_fadvise((int)file.DangerousGetHandle(), 0, 0, DontNeed) == 0;
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);
}
