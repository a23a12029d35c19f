
namespace KontinuumP2P.Certs.Hashing;

/// <summary>The <c>b3sum</c> output format, shared by <c>kontinuum blake3</c> and its tests: one line
/// "&lt;64 hex&gt;  &lt;name&gt;" per input, names with a backslash or newline escaped behind a leading backslash,
/// and unreadable inputs reported on the error writer while the others are still hashed.</summary>
public static class Blake3Sum
{
    /// <summary>The name that stands for standard input.</summary>
    public const string StandardInputName = "-";

    /// <summary>One checksum line, without the line terminator.</summary>
    public static string FormatLine(ReadOnlySpan<byte> hash, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var hex = Convert.ToHexStringLower(hash);
        if (!name.Contains('\\') && !name.Contains('\n')) return $"{hex}  {name}";
        // Same escaping as b3sum / sha256sum, so --check style tools can read the line back.
        return $"\\{hex}  {name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}";
    }

    /// <summary>Hashes each file (or standard input for "-" or when <paramref name="paths"/> is empty) one after the
    /// other, streaming it, and writes one line per input. Returns the exit code: 0, or 1 if any input failed.</summary>
    /// <param name="paths">The files to hash, in output order.</param>
    /// <param name="openStandardInput">Opens standard input when "-" is named.</param>
    /// <param name="output">Receives the checksum lines.</param>
    /// <param name="error">Receives "<paramref name="programName"/>: NAME: reason" for each input that failed.</param>
    /// <param name="programName">The prefix of error messages.</param>
    /// <param name="cancellationToken">Stops between and during files.</param>
    public static async Task<int> WriteChecksumsAsync(IReadOnlyList<string> paths, Func<Stream> openStandardInput,
        TextWriter output, TextWriter error, string programName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(openStandardInput);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var exitCode = 0;
        foreach (var path in paths.Count == 0 ? [StandardInputName] : paths)
        {
            byte[] hash;
            try
            {
                hash = path == StandardInputName
                    ? await Blake3.HashStreamAsync(openStandardInput(), cancellationToken).ConfigureAwait(false)
                    : await HashFileAsync(path, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"{programName}: {path}: {Describe(path, e)}").ConfigureAwait(false);
                exitCode = 1;
                continue;
            }
            await output.WriteLineAsync(FormatLine(hash, path)).ConfigureAwait(false);
        }
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return exitCode;
    }

    /// <summary>Hashes one file, reading it in <see cref="Blake3.StreamBufferSize"/> pieces (never whole).</summary>
    /// <remarks>Plain positional reads on a handle: for the many small files of a checksum run this costs far less
    /// than a FileStream, and on Linux a file read completes synchronously either way.</remarks>
    public static Task<byte[]> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        cancellationToken.ThrowIfCancellationRequested();
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var hasher = new Blake3Hasher();
        var buffer = Blake3.RentReadBuffer(out var start);
        try
        {
            long offset = 0;
            int read;
            // Stop at the size seen at open (as b3sum's mapping does) to save the empty read that signals the end;
            // pipes and devices report length 0 and are read until a read returns nothing.
            var length = RandomAccess.GetLength(handle);
            do
            {
                read = RandomAccess.Read(handle, buffer.AsSpan(start, Blake3.StreamBufferSize), offset);
                hasher.Update(buffer.AsSpan(start, read));
                offset += read;
                cancellationToken.ThrowIfCancellationRequested();
            }
            while (read > 0 && (length == 0 || offset < length));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
        return Task.FromResult(hasher.FinalizeToArray());
    }

    private static string Describe(string path, Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        _ when Directory.Exists(path) => "Is a directory",
        UnauthorizedAccessException => "Permission denied",
        _ => e.Message,
    };
}
