using System.Security.Cryptography;
using System.Text;

namespace KontinuumP2P.Mailbox.Crypto;

/// <summary>
/// Keys derived from a <see cref="GroupSecret"/> with HKDF-SHA256: one extract (fixed salt), then one expand per key
/// with a distinct label. The blob key is shared by the group; each mailbox slot gets its own mailbox id, capability
/// and archive key (the slot name is in the label), so two mailboxes of one group hold no value in common and cannot
/// link the group to each other. A replacement node of the same slot gets the same mailbox.
/// </summary>
public sealed class GroupKeys : IDisposable
{
    /// <summary>Length of every derived key and id, except device ids.</summary>
    public const int KeyLength = 32;

    /// <summary>Length of a per-mailbox device id.</summary>
    public const int DeviceIdLength = 16;

    /// <summary>Length of a device secret.</summary>
    public const int DeviceSecretLength = 32;

    /// <summary>Longest slot name, in UTF-8 bytes.</summary>
    public const int MaxSlotLength = 64;

    internal static ReadOnlySpan<byte> GroupSalt => "kontinuum/mailbox/group/v1"u8;
    internal static ReadOnlySpan<byte> DeviceSalt => "kontinuum/mailbox/device/v1"u8;
    internal const string BlobKeyLabel = "kontinuum/mailbox/v1 blob-key";
    internal const string MailboxIdLabel = "kontinuum/mailbox/v1 mailbox-id";
    internal const string CapabilityLabel = "kontinuum/mailbox/v1 capability";
    internal const string ArchiveKeyLabel = "kontinuum/mailbox/v1 archive-key";
    internal const string DeviceIdLabel = "kontinuum/mailbox/v1 device-id";

    private readonly byte[] _prk = new byte[KeyLength];
    private readonly byte[] _blobKey = new byte[KeyLength];

    /// <summary>Derives the group's keys.</summary>
    public GroupKeys(GroupSecret secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        HKDF.Extract(HashAlgorithmName.SHA256, secret.Bytes, GroupSalt, _prk);
        Hkdf256.Expand(_prk, Encoding.ASCII.GetBytes(BlobKeyLabel), _blobKey);
    }

    /// <summary>The XChaCha20-Poly1305 key of every blob of the group.</summary>
    public ReadOnlySpan<byte> BlobKey => _blobKey;

    /// <summary>The keys of one mailbox slot (or a mailbox named by its PeerId text).</summary>
    /// <exception cref="ArgumentException">The slot name is not valid (see <see cref="ValidateSlot"/>).</exception>
    public SlotKeys ForSlot(string slot)
    {
        ValidateSlot(slot);
        return new SlotKeys(slot, Expand(MailboxIdLabel, slot), Expand(CapabilityLabel, slot), Expand(ArchiveKeyLabel, slot));
    }

    /// <summary>A device's id at one mailbox: HKDF of the device secret with the mailbox id in the label, so the same
    /// device is unlinkable across mailboxes and groups.</summary>
    /// <exception cref="ArgumentException">The device secret is not <see cref="DeviceSecretLength"/> bytes.</exception>
    public static byte[] DeviceId(ReadOnlySpan<byte> deviceSecret, SlotKeys slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (deviceSecret.Length != DeviceSecretLength) throw new ArgumentException($"a device secret is {DeviceSecretLength} bytes", nameof(deviceSecret));
        var info = Label(DeviceIdLabel, slot.MailboxId);
        var id = new byte[DeviceIdLength];
        Hkdf256.Derive(deviceSecret, DeviceSalt, info, id);
        return id;
    }

    /// <summary>Checks a slot name: 1..64 UTF-8 bytes of letters, digits, '.', '-', '_' (PeerIds qualify).</summary>
    /// <exception cref="ArgumentException">Empty, too long, or a character outside that set.</exception>
    public static void ValidateSlot(string slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        if (slot.Length is 0 or > MaxSlotLength) throw new ArgumentException($"mailbox slot '{slot}' must be 1..{MaxSlotLength} characters", nameof(slot));
        foreach (var c in slot)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
                throw new ArgumentException($"mailbox slot '{slot}' has '{c}': only letters, digits, '.', '-' and '_' are allowed", nameof(slot));
        }
    }

    /// <summary>Wipes the keys.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_prk);
        CryptographicOperations.ZeroMemory(_blobKey);
    }

    private byte[] Expand(string label, string slot)
    {
        var output = new byte[KeyLength];
        Hkdf256.Expand(_prk, Label(label, Encoding.UTF8.GetBytes(slot)), output);
        return output;
    }

    // label || 0x00 || context: the separator keeps (label, context) pairs from running into each other.
    private static byte[] Label(string label, ReadOnlySpan<byte> context) => [.. Encoding.ASCII.GetBytes(label), 0, .. context];
}

/// <summary>What one mailbox of a group needs: its id, the capability that opens it, and the archive key the replica
/// mailbox keeps for the archive pusher. All three are secret to the group and that one mailbox.</summary>
/// <param name="Slot">The slot name (or PeerId text) the keys were derived for.</param>
/// <param name="MailboxId">The 32-byte mailbox id.</param>
/// <param name="Capability">The 32-byte capability (the server stores only its BLAKE3 hash).</param>
/// <param name="ArchiveKey">The 32-byte archive key.</param>
public sealed record SlotKeys(string Slot, byte[] MailboxId, byte[] Capability, byte[] ArchiveKey);
