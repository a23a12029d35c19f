using System.Buffers.Binary;
using System.Text;
using KontinuumP2P.Certs.Hashing;
using KontinuumP2P.Certs.Secrets;

namespace KontinuumP2P.Mailbox.Crypto;

/// <summary>
/// What a new device needs to join a group, as a base64url string small enough for a QR code (about 200-300
/// characters). Binary layout, version 1 (big-endian):
/// <c>version u8 | flags u8 (bit 0: passphrase) | expires unix-seconds u64 | network (u8 len, UTF-8) | slot count u8 |
/// slots (u8 len, UTF-8 each) | secret[32] or (salt[16] | memoryKiB u32 | passes u32) | check[4]</c>, where check is the
/// first 4 bytes of BLAKE3 of everything before it (catches truncation and typos). A passphrase invite carries only the
/// salt and Argon2id parameters; the passphrase travels separately. Version 2 (written only when
/// <see cref="HistoryKeys"/> is set, that is after a rotation) adds <c>count u8 | blob keys[32] each</c> before the
/// check: the read keys of earlier generations, so a device joining with a new directory can open the history that
/// was re-pushed to the new mailboxes. They open blobs only (no mailbox ids or capabilities derive from them).
/// </summary>
public sealed record Invite
{
    /// <summary>The format version written.</summary>
    public const byte CurrentVersion = 2;

    /// <summary>The version written when the invite carries no history keys (readable by older builds).</summary>
    public const byte BaseVersion = 1;

    /// <summary>Most history keys an invite carries (the newest are kept).</summary>
    public const int MaxHistoryKeys = 8;

    /// <summary>Most mailbox slots in an invite.</summary>
    public const int MaxSlots = 3;

    /// <summary>Longest network name, in UTF-8 bytes.</summary>
    public const int MaxNetworkLength = 64;

    /// <summary>Longest invite text accepted (checked before decoding).</summary>
    public const int MaxTextLength = 1024;

    private const byte PassphraseFlag = 1;
    private const int CheckLength = 4;

    /// <summary>The network the group's mailboxes live on (e.g. <c>mainnet</c> or a genesis network name).</summary>
    public required string Network { get; init; }

    /// <summary>The group's mailbox slot names or PeerId texts, 1..3.</summary>
    public required IReadOnlyList<string> Slots { get; init; }

    /// <summary>When the invite stops being accepted.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The group secret (random groups); null for passphrase groups.</summary>
    public byte[]? Secret { get; init; }

    /// <summary>The Argon2id salt (passphrase groups).</summary>
    public byte[]? Salt { get; init; }

    /// <summary>The Argon2id parameters (passphrase groups).</summary>
    public KdfParameters? Kdf { get; init; }

    /// <summary>Blob (read) keys of earlier generations, oldest first; only with <see cref="Secret"/> (rotated groups
    /// are never passphrase groups). Null or empty: none.</summary>
    public IReadOnlyList<byte[]>? HistoryKeys { get; init; }

    /// <summary>Whether joining needs the passphrase.</summary>
    public bool NeedsPassphrase => Secret is null;

    /// <summary>The group secret: from the invite, or from the passphrase for passphrase groups.</summary>
    /// <exception cref="ArgumentException">A passphrase group and no passphrase given.</exception>
    public GroupSecret OpenSecret(string? passphrase = null)
    {
        if (Secret is { } secret) return GroupSecret.FromBytes(secret);
        if (string.IsNullOrEmpty(passphrase)) throw new ArgumentException("this invite is for a passphrase group: the passphrase is needed to join", nameof(passphrase));
        return GroupSecret.FromPassphrase(passphrase, Salt, Kdf!);
    }

    /// <summary>The base64url text.</summary>
    /// <exception cref="ArgumentException">Fields out of bounds.</exception>
    public string Encode()
    {
        var network = Encoding.UTF8.GetBytes(Network);
        if (network.Length is 0 or > MaxNetworkLength) throw new ArgumentException($"network name must be 1..{MaxNetworkLength} bytes", nameof(Network));
        if (Slots.Count is 0 or > MaxSlots) throw new ArgumentException($"an invite names 1..{MaxSlots} mailbox slots", nameof(Slots));
        if ((Secret is null) == (Salt is null || Kdf is null)) throw new ArgumentException("an invite carries either the secret or a salt and Argon2id parameters", nameof(Secret));
        var history = HistoryKeys ?? [];
        if (history.Count > MaxHistoryKeys) throw new ArgumentException($"an invite carries at most {MaxHistoryKeys} history keys", nameof(HistoryKeys));
        if (history.Count > 0 && Secret is null) throw new ArgumentException("history keys travel only with the secret", nameof(HistoryKeys));
        using var buffer = new MemoryStream();
        buffer.WriteByte(history.Count > 0 ? CurrentVersion : BaseVersion);
        buffer.WriteByte(Secret is null ? PassphraseFlag : (byte)0);
        Span<byte> number = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(number, ExpiresAt.ToUnixTimeSeconds());
        buffer.Write(number);
        WriteShort(buffer, network);
        buffer.WriteByte((byte)Slots.Count);
        foreach (var slot in Slots)
        {
            GroupKeys.ValidateSlot(slot);
            WriteShort(buffer, Encoding.UTF8.GetBytes(slot));
        }
        if (Secret is { } secret)
        {
            if (secret.Length != GroupSecret.Length) throw new ArgumentException($"secret must be {GroupSecret.Length} bytes", nameof(Secret));
            buffer.Write(secret);
        }
        else
        {
            if (Salt!.Length != GroupSecret.SaltLength) throw new ArgumentException($"salt must be {GroupSecret.SaltLength} bytes", nameof(Salt));
            Kdf!.Validate();
            buffer.Write(Salt);
            BinaryPrimitives.WriteInt32BigEndian(number, Kdf.MemoryKiB);
            buffer.Write(number[..4]);
            BinaryPrimitives.WriteInt32BigEndian(number, Kdf.Passes);
            buffer.Write(number[..4]);
        }
        if (history.Count > 0)
        {
            buffer.WriteByte((byte)history.Count);
            foreach (var key in history)
            {
                if (key.Length != GroupKeys.KeyLength) throw new ArgumentException($"a history key is {GroupKeys.KeyLength} bytes", nameof(HistoryKeys));
                buffer.Write(key);
            }
        }
        var body = buffer.ToArray();
        return System.Buffers.Text.Base64Url.EncodeToString([.. body, .. Blake3.Hash(body).AsSpan(0, CheckLength)]);
    }

    /// <summary>Parses and checks an invite.</summary>
    /// <param name="text">The base64url text (surrounding whitespace ignored).</param>
    /// <param name="now">The current time, for the expiry check.</param>
    /// <exception cref="InviteException">Malformed, truncated, altered, another version, or expired; the error says which.</exception>
    public static Invite Parse(string text, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.Length == 0) throw new InviteException(InviteError.Malformed, "invite is empty");
        if (text.Length > MaxTextLength) throw new InviteException(InviteError.Malformed, $"invite is {text.Length} characters, more than {MaxTextLength}");
        byte[] bytes;
        try
        {
            bytes = System.Buffers.Text.Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            throw new InviteException(InviteError.Malformed, "invite is not base64url text");
        }
        if (bytes.Length == 0) throw new InviteException(InviteError.Truncated, "invite is truncated (no bytes)");
        if (bytes[0] is not (BaseVersion or CurrentVersion))
            throw new InviteException(InviteError.BadVersion, $"invite version {bytes[0]} is not supported (this build reads versions {BaseVersion} and {CurrentVersion})");
        var reader = new Reader(bytes);
        var flags = reader.Byte();
        if ((flags & ~PassphraseFlag) != 0) throw new InviteException(InviteError.Malformed, $"invite has unknown flags 0x{flags:x2}");
        var expires = reader.Int64();
        var network = reader.ShortText("network", MaxNetworkLength);
        var count = reader.Byte();
        if (count is 0 or > MaxSlots) throw new InviteException(InviteError.Malformed, $"invite names {count} mailbox slots (1..{MaxSlots} allowed)");
        var slots = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var slot = reader.ShortText("slot", GroupKeys.MaxSlotLength);
            try
            {
                GroupKeys.ValidateSlot(slot);
            }
            catch (ArgumentException e)
            {
                throw new InviteException(InviteError.Malformed, "invite " + e.Message);
            }
            slots.Add(slot);
        }
        byte[]? secret = null, salt = null;
        KdfParameters? kdf = null;
        if ((flags & PassphraseFlag) == 0)
        {
            secret = reader.Bytes(GroupSecret.Length);
        }
        else
        {
            salt = reader.Bytes(GroupSecret.SaltLength);
            kdf = new KdfParameters(reader.Int32(), reader.Int32());
            if (kdf.MemoryKiB is < KdfParameters.MinMemoryKiB or > KdfParameters.MaxMemoryKiB || kdf.Passes is < 1 or > KdfParameters.MaxPasses)
                throw new InviteException(InviteError.Malformed, $"invite asks for out-of-bounds Argon2id parameters ({kdf})");
        }
        List<byte[]>? history = null;
        if (bytes[0] == CurrentVersion)
        {
            var keys = reader.Byte();
            if (keys is 0 or > MaxHistoryKeys || secret is null)
                throw new InviteException(InviteError.Malformed, $"invite carries {keys} history keys (1..{MaxHistoryKeys}, random-secret groups only)");
            history = new List<byte[]>(keys);
            for (var i = 0; i < keys; i++) history.Add(reader.Bytes(GroupKeys.KeyLength));
        }
        var bodyLength = reader.Position;
        var check = reader.Bytes(CheckLength);
        if (reader.Position != bytes.Length) throw new InviteException(InviteError.Malformed, $"invite has {bytes.Length - reader.Position} unexpected trailing bytes");
        if (!Blake3.Hash(bytes.AsSpan(0, bodyLength)).AsSpan(0, CheckLength).SequenceEqual(check))
            throw new InviteException(InviteError.Corrupt, "invite check bytes do not match: it was altered or mistyped");
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(expires, 0, DateTimeOffset.MaxValue.ToUnixTimeSeconds()));
        if (expiresAt <= now) throw new InviteException(InviteError.Expired, $"invite expired at {expiresAt:u}");
        return new Invite { Network = network, Slots = slots, ExpiresAt = expiresAt, Secret = secret, Salt = salt, Kdf = kdf, HistoryKeys = history };
    }

    private static void WriteShort(MemoryStream buffer, byte[] value)
    {
        if (value.Length > byte.MaxValue) throw new ArgumentException("field over 255 bytes");
        buffer.WriteByte((byte)value.Length);
        buffer.Write(value);
    }

    private sealed class Reader(byte[] bytes)
    {
        public int Position { get; private set; } = 1;

        public byte Byte() => Bytes(1)[0];

        public long Int64() => BinaryPrimitives.ReadInt64BigEndian(Bytes(8));

        public int Int32() => BinaryPrimitives.ReadInt32BigEndian(Bytes(4));

        public string ShortText(string what, int maxLength)
        {
            var length = Byte();
            if (length == 0 || length > maxLength) throw new InviteException(InviteError.Malformed, $"invite {what} is {length} bytes (1..{maxLength} allowed)");
            try
            {
                return new UTF8Encoding(false, true).GetString(Bytes(length));
            }
            catch (DecoderFallbackException)
            {
                throw new InviteException(InviteError.Malformed, $"invite {what} is not UTF-8");
            }
        }

        public byte[] Bytes(int count)
        {
            if (bytes.Length - Position < count) throw new InviteException(InviteError.Truncated, $"invite is truncated ({bytes.Length} bytes)");
            var result = bytes.AsSpan(Position, count).ToArray();
            Position += count;
            return result;
        }
    }
}

/// <summary>Why an invite was refused.</summary>
public enum InviteError
{
    /// <summary>Not base64url, bad field, or trailing bytes.</summary>
    Malformed,
    /// <summary>A version this build does not read.</summary>
    BadVersion,
    /// <summary>Ends before its last field.</summary>
    Truncated,
    /// <summary>The check bytes do not match.</summary>
    Corrupt,
    /// <summary>Past its expiry.</summary>
    Expired,
}

/// <summary>An invite that cannot be used; <see cref="Error"/> says why.</summary>
public sealed class InviteException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public InviteException(InviteError error, string message) : base(message) => Error = error;

    /// <summary>Why.</summary>
    public InviteError Error { get; }
}
