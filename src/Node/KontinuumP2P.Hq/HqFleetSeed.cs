using KontinuumP2P.Core.Identity;
using KontinuumP2P.Hq.Allocation;
using KontinuumP2P.Hq.Registry;

namespace KontinuumP2P.Hq;

/// <summary>
/// Puts the slots and spares of <c>hq.toml</c>'s <c>[fleet]</c> into the registry. Entries the registry already holds
/// are left alone: after a replacement the registry, not the file, knows which node holds a slot.
/// </summary>
public static class HqFleetSeed
{
    /// <summary>Adds what is missing; returns how many slots and spares were added.</summary>
    public static (int Slots, int Spares) Apply(HqService hq, HqOptions.FleetSection fleet)
    {
        ArgumentNullException.ThrowIfNull(hq);
        ArgumentNullException.ThrowIfNull(fleet);
        int slots = 0, spares = 0;
        foreach (var s in fleet.Slots)
        {
            if (hq.Registry.GetSlot(s.Name) is not null) continue;
            hq.RegisterSlot("config", s.Name, PeerId.Parse(s.NodeId), s.Provider, s.Region, s.Role == "replica" ? MailboxRole.Replica : MailboxRole.Ephemeral, s.Capacity);
            slots++;
        }
        foreach (var s in fleet.Spares)
        {
            if (hq.Registry.HasSpare(s.Id)) continue;
            hq.Registry.AddSpare("config", new SpareEntry(s.Id, s.Provider, s.Region, s.Directory, null));
            spares++;
        }
        return (slots, spares);
    }
}
