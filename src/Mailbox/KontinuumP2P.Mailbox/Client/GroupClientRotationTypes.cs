using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// A device's id at each mailbox of one generation (per-mailbox ids are unlinkable, so a removal names all of them).
/// Text form: <c>slot=hex,slot=hex</c>, as <c>group device</c> prints it; record it for each device when it joins,
/// because a stolen device cannot be asked later.
/// </summary>
public sealed record DeviceReference(IReadOnlyDictionary<string, byte[]> Ids)
{
    /// <summary>The reference of the device owning <paramref name="store"/>, at its current generation's mailboxes.</summary>
    public static DeviceReference Of(GroupStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var generation = store.Current;
        return new DeviceReference(generation.Slots.ToDictionary(s => s, s => GroupKeys.DeviceId(store.DeviceSecret, generation.SlotKeys[s]), StringComparer.Ordinal));
    }

    /// <summary>The text form.</summary>
    public override string ToString() => string.Join(',', Ids.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + Convert.ToHexStringLower(p.Value)));

    /// <summary>Parses the text form.</summary>
    /// <exception cref="FormatException">Not <c>slot=hex</c> pairs, a bad slot name, or an id that is not 16..32 bytes.</exception>
    public static DeviceReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) throw new FormatException($"'{part}' is not slot=hex");
            var slot = part[..equals];
            try
            {
                GroupKeys.ValidateSlot(slot);
            }
            catch (ArgumentException e)
            {
                throw new FormatException(e.Message, e);
            }
            var id = Convert.FromHexString(part[(equals + 1)..]);
            if (id.Length is < MailboxProtocol.MinDeviceIdLength or > MailboxProtocol.MaxDeviceIdLength)
                throw new FormatException($"device id at {slot} is {id.Length} bytes (16..32)");
            if (!ids.TryAdd(slot, id)) throw new FormatException($"slot {slot} is named twice");
        }
        if (ids.Count is 0 or > Invite.MaxSlots) throw new FormatException($"a device reference names 1..{Invite.MaxSlots} mailboxes");
        return new DeviceReference(ids);
    }
}

/// <summary>What one mailbox answered to a device removal.</summary>
/// <param name="Slot">The mailbox slot.</param>
/// <param name="Removed">Removed now (false: removed before, or the removal failed; see <paramref name="Error"/>).</param>
/// <param name="Devices">Devices still counting at that mailbox.</param>
/// <param name="Error">Why it failed (null on success, including "removed before").</param>
public sealed record DeviceRemovalResult(string Slot, bool Removed, int Devices, string? Error);

/// <summary>An old mailbox closed (or not) after a rotation.</summary>
/// <param name="Generation">Its generation.</param>
/// <param name="Slot">Its slot.</param>
/// <param name="Closed">Closed now or before.</param>
/// <param name="Error">Why not (null when closed).</param>
public sealed record MailboxClosure(int Generation, string Slot, bool Closed, string? Error);

/// <summary>The result of a rotation.</summary>
/// <param name="Invite">The invite to the new generation (with the earlier read keys).</param>
/// <param name="Generation">The new generation's number.</param>
/// <param name="Owed">Outbox rows the new mailboxes still owe; the old mailboxes stay open until it is 0 (then
/// <see cref="GroupClient.CloseOldMailboxesAsync"/>).</param>
/// <param name="Closed">The old mailboxes closed.</param>
public sealed record RotationOutcome(Invite Invite, int Generation, int Owed, IReadOnlyList<MailboxClosure> Closed);
