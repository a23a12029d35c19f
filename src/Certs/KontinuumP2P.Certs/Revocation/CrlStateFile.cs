using System.Text.Json;
using System.Text.Json.Serialization;
using KontinuumP2P.Certs.Encoding;

namespace KontinuumP2P.Certs.Revocation;

/// <summary>The persisted CRL high-water mark: the highest accepted number, its body hash and the CRL itself.</summary>
/// <param name="CrlNumber">Highest accepted crl_number.</param>
/// <param name="BodySha256">SHA-256 of that CRL's body (lowercase hex), to detect equivocation.</param>
/// <param name="EncodedCrl">The accepted CRL's wire bytes.</param>
public sealed record CrlState(ulong CrlNumber, string BodySha256, byte[] EncodedCrl);

/// <summary>Where a <see cref="CrlTracker"/> keeps its high-water mark.</summary>
public interface ICrlStateStore
{
    /// <summary>The saved state, or null when nothing was accepted yet.</summary>
    CrlState? Load();

    /// <summary>Saves the state durably before the tracker reports the CRL accepted.</summary>
    void Save(CrlState state);
}

/// <summary>
/// The high-water mark in a small JSON file, replaced atomically (write a temporary file, flush to disk, rename over).
/// A file rather than SQLite because the state is one record written once per CRL and read once at start, and an
/// atomic rename gives crash safety with nothing to migrate; one process owns the file.
/// </summary>
public sealed class CrlStateFile : ICrlStateStore
{
    /// <summary>Largest accepted state file.</summary>
    public const int MaxFileLength = 2 * Crl.MaxEncodedLength + 4096;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Uses the file at <paramref name="path"/> (created on first save).</summary>
    public CrlStateFile(string path) => Path = System.IO.Path.GetFullPath(path);

    /// <summary>The file path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    /// <exception cref="TrustFormatException">The file exists but is unreadable or corrupt (never silently reset).</exception>
    public CrlState? Load()
    {
        if (!File.Exists(Path)) return null;
        var info = new FileInfo(Path);
        if (info.Length > MaxFileLength) throw new TrustFormatException($"CRL state file {Path} is {info.Length} bytes, over {MaxFileLength}");
        try
        {
            var dto = JsonSerializer.Deserialize<StateDto>(File.ReadAllBytes(Path), Json)
                ?? throw new TrustFormatException($"CRL state file {Path} is empty");
            if (dto.CrlNumber == 0 || dto.BodySha256 is not { Length: 64 } || dto.Crl is null)
                throw new TrustFormatException($"CRL state file {Path} lacks crlNumber, bodySha256 or crl");
            return new CrlState(dto.CrlNumber, dto.BodySha256, Convert.FromBase64String(dto.Crl));
        }
        catch (Exception e) when (e is JsonException or FormatException and not TrustFormatException)
        {
            throw new TrustFormatException($"CRL state file {Path} is corrupt: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public void Save(CrlState state)
    {
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(dir);
        // A fixed temporary name (one process owns the file): a leftover from a crash is overwritten, not accumulated.
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(Path)}.tmp");
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new StateDto(state.CrlNumber, state.BodySha256, Convert.ToBase64String(state.EncodedCrl)), Json);
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, Path, overwrite: true);
        // The rename is durable only once the directory is.
        Secrets.DurableFiles.FlushDirectory(dir);
    }

    private sealed record StateDto(
        [property: JsonPropertyName("crlNumber")] ulong CrlNumber,
        [property: JsonPropertyName("bodySha256")] string? BodySha256,
        [property: JsonPropertyName("crl")] string? Crl);
}

/// <summary>
/// A high-water mark kept only in memory, for one-shot checks (assembling a CRL, a CLI verify without a state file)
/// where nothing should persist. A node must use <see cref="CrlStateFile"/> or another durable store.
/// </summary>
public sealed class VolatileCrlStateStore : ICrlStateStore
{
    private CrlState? _state;

    /// <inheritdoc />
    public CrlState? Load() => _state;

    /// <inheritdoc />
    public void Save(CrlState state) => _state = state;
}
