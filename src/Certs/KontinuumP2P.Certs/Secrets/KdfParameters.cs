namespace KontinuumP2P.Certs.Secrets;

/// <summary>Argon2id cost parameters (libsodium: parallelism is always 1).</summary>
/// <param name="MemoryKiB">Memory in KiB.</param>
/// <param name="Passes">Number of passes (time cost).</param>
public sealed record KdfParameters(int MemoryKiB, int Passes)
{
    /// <summary>Smallest memory accepted (libsodium's minimum is 8 KiB; tests use small values).</summary>
    public const int MinMemoryKiB = 8;

    /// <summary>Largest memory a file may ask for when opened (4 GiB), so a crafted file cannot exhaust memory.</summary>
    public const int MaxMemoryKiB = 4 * 1024 * 1024;

    /// <summary>Most passes a file may ask for.</summary>
    public const int MaxPasses = 32;

    /// <summary>Node key files: 64 MiB, 3 passes.</summary>
    public static KdfParameters NodeKey { get; } = new(64 * 1024, 3);

    /// <summary>Tier 0 backups: 256 MiB, 4 passes (opened rarely, on a ceremony machine).</summary>
    public static KdfParameters Backup { get; } = new(256 * 1024, 4);

    /// <summary>Checks the bounds.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Out of bounds.</exception>
    public void Validate()
    {
        if (MemoryKiB is < MinMemoryKiB or > MaxMemoryKiB) throw new ArgumentOutOfRangeException(nameof(MemoryKiB), MemoryKiB, $"Argon2id memory must be {MinMemoryKiB}..{MaxMemoryKiB} KiB");
        if (Passes is < 1 or > MaxPasses) throw new ArgumentOutOfRangeException(nameof(Passes), Passes, $"Argon2id passes must be 1..{MaxPasses}");
    }

    /// <summary>Human form, e.g. <c>Argon2id m=65536 KiB t=3 p=1</c>.</summary>
    public override string ToString() => $"Argon2id m={MemoryKiB} KiB t={Passes} p=1";
}
