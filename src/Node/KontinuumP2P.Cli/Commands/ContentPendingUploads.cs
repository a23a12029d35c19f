using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KontinuumP2P.Mailbox.Content;

namespace KontinuumP2P.Cli.Commands;

/// <summary>
/// Uploads begun by <c>content put</c> and not finished, kept in the group directory (<c>content-uploads/</c>, one
/// owner-only file per source file) so the next <c>put</c> of the same unchanged file resumes under the same key and
/// content id, sending only the chunks the mailbox nodes lack. Each file holds the reference (with its key), so it is
/// written owner-only and deleted once the reference is pushed.
/// </summary>
internal static class ContentPendingUploads
{
    private const string Folder = "content-uploads";

    /// <summary>The reference of an unfinished upload of <paramref name="file"/> as it is now (same size and modification time), or null.</summary>
    public static ContentReference? Find(string groupDirectory, FileInfo file)
    {
        var path = PathFor(groupDirectory, file);
        if (!File.Exists(path)) return null;
        var lines = File.ReadAllLines(path);
        if (lines.Length != 4 || lines[0] != file.FullName || lines[1] != Stamp(file)) return null;
        try
        {
            return ContentReference.ParseText(lines[3]);
        }
        catch (ContentException)
        {
            return null;
        }
    }

    /// <summary>Records <paramref name="reference"/> as the upload of <paramref name="file"/> (atomically, owner-only).</summary>
    public static void Save(string groupDirectory, FileInfo file, ContentReference reference)
    {
        var path = PathFor(groupDirectory, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(Encoding.UTF8.GetBytes($"{file.FullName}\n{Stamp(file)}\n{reference.Id}\n{reference.ToText()}\n"));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Forgets the upload of <paramref name="file"/>.</summary>
    public static void Remove(string groupDirectory, FileInfo file) => File.Delete(PathFor(groupDirectory, file));

    private static string Stamp(FileInfo file)
    {
        file.Refresh();
        return string.Create(CultureInfo.InvariantCulture, $"{file.Length} {file.LastWriteTimeUtc.Ticks}");
    }

    private static string PathFor(string groupDirectory, FileInfo file) =>
        Path.Combine(groupDirectory, Folder, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(file.FullName)))[..32] + ".ref");
}
