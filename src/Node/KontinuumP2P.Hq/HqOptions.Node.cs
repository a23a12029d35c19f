namespace KontinuumP2P.Hq;

public sealed partial class HqOptions
{
    /// <summary>
    /// A <c>node.toml</c> for HQ's libp2p node (its identity must be HQ's key and certificate): HQ then receives alerts
    /// over the health protocol, publishes <c>/slot/</c> records and replaces RED slots. Empty: no node (registry,
    /// escalation ticks and the admin API only).
    /// </summary>
    public string NodeConfig { get; set; } = "";

    /// <summary>How often HQ expires alerts and replaces down slots, seconds.</summary>
    public double TickSeconds { get; set; } = 5;

    /// <summary>How often every slot record is put into the DHT again, seconds.</summary>
    public double SlotRepublishSeconds { get; set; } = 600;

    /// <summary>[provisioning] section.</summary>
    public ProvisioningSection Provisioning { get; set; } = new();

    /// <summary>[fleet] section: slots and spares HQ starts with.</summary>
    public FleetSection Fleet { get; set; } = new();

    private void ValidateNode()
    {
        if (!(TickSeconds is > 0 and <= 3600)) throw new ArgumentException("hq.tick_seconds must be in (0, 3600]");
        if (!(SlotRepublishSeconds is >= 1 and <= 86400)) throw new ArgumentException("hq.slot_republish_seconds must be in [1, 86400]");
        if (!(Provisioning.StartTimeoutSeconds is >= 1 and <= 3600)) throw new ArgumentException("provisioning.start_timeout_seconds must be in [1, 3600]");
        if (Provisioning.MaxAttempts is < 1 or > 100) throw new ArgumentException("provisioning.max_attempts must be in [1, 100]");
        if (!(Provisioning.RetrySeconds is >= 0 and <= 86400)) throw new ArgumentException("provisioning.retry_seconds must be in [0, 86400]");
        if (!(Provisioning.MaxRetrySeconds >= Provisioning.RetrySeconds && Provisioning.MaxRetrySeconds <= 86400))
            throw new ArgumentException("provisioning.max_retry_seconds must be in [retry_seconds, 86400]");
        foreach (var slot in Fleet.Slots)
        {
            if (!KontinuumP2P.Mailbox.Health.SlotRecord.IsValidSlotName(slot.Name)) throw new ArgumentException($"fleet.slots: '{slot.Name}' is not a slot name (a-z 0-9 - .)");
            if (!KontinuumP2P.Core.Identity.PeerId.TryParse(slot.NodeId, out _)) throw new ArgumentException($"fleet.slots.{slot.Name}.node_id: '{slot.NodeId}' is not a peer id");
            if (slot.Role is not ("ephemeral" or "replica")) throw new ArgumentException($"fleet.slots.{slot.Name}.role: '{slot.Role}' is not ephemeral or replica");
            if (string.IsNullOrWhiteSpace(slot.Provider)) throw new ArgumentException($"fleet.slots.{slot.Name}.provider is empty");
        }
        foreach (var spare in Fleet.Spares)
        {
            if (!KontinuumP2P.Core.Identity.PeerId.TryParse(spare.Id, out _)) throw new ArgumentException($"fleet.spares: '{spare.Id}' is not a peer id");
            if (string.IsNullOrWhiteSpace(spare.Provider) || string.IsNullOrWhiteSpace(spare.Directory))
                throw new ArgumentException($"fleet.spares.{spare.Id}: provider and directory are required");
        }
    }

    /// <summary>[provisioning]: how replacements are started.</summary>
    public sealed class ProvisioningSection
    {
        /// <summary>Executable that runs <c>kontinuum</c>; empty: this very program.</summary>
        public string Command { get; set; } = "";

        /// <summary>Arguments before <c>node run</c> (e.g. the path of <c>kontinuum.dll</c> when the command is <c>dotnet</c>).</summary>
        public List<string> Args { get; set; } = [];

        /// <summary>How long a replacement may take to announce itself, seconds.</summary>
        public double StartTimeoutSeconds { get; set; } = 60;

        /// <summary>Spares tried for one slot before HQ gives up on it.</summary>
        public int MaxAttempts { get; set; } = 3;

        /// <summary>Wait after the first failed start, seconds; doubles after each further failure.</summary>
        public double RetrySeconds { get; set; } = 30;

        /// <summary>Longest wait between attempts, seconds.</summary>
        public double MaxRetrySeconds { get; set; } = 300;

        /// <summary>The retry policy these settings describe.</summary>
        public Provisioning.ProvisioningRetryOptions ToRetryOptions() => new()
        {
            MaxAttempts = MaxAttempts,
            FirstDelay = TimeSpan.FromSeconds(RetrySeconds),
            MaxDelay = TimeSpan.FromSeconds(MaxRetrySeconds),
        };
    }

    /// <summary>[fleet]: what HQ's registry is seeded with (entries already in the registry are left as they are).</summary>
    public sealed class FleetSection
    {
        /// <summary>[[fleet.slots]].</summary>
        public List<FleetSlot> Slots { get; set; } = [];

        /// <summary>[[fleet.spares]].</summary>
        public List<FleetSpare> Spares { get; set; } = [];
    }

    /// <summary>One [[fleet.slots]] entry.</summary>
    public sealed class FleetSlot
    {
        /// <summary>Slot name.</summary>
        public string Name { get; set; } = "";

        /// <summary>Node holding it.</summary>
        public string NodeId { get; set; } = "";

        /// <summary>Provider label (as in the node's certificate).</summary>
        public string Provider { get; set; } = "";

        /// <summary>Region.</summary>
        public string Region { get; set; } = "local";

        /// <summary><c>ephemeral</c> or <c>replica</c>.</summary>
        public string Role { get; set; } = "ephemeral";

        /// <summary>Groups it may hold.</summary>
        public int Capacity { get; set; } = 1000;
    }

    /// <summary>One [[fleet.spares]] entry: a pre-certified identity folder laid out as <c>devnet init</c> does.</summary>
    public sealed class FleetSpare
    {
        /// <summary>Its peer id.</summary>
        public string Id { get; set; } = "";

        /// <summary>Provider label.</summary>
        public string Provider { get; set; } = "";

        /// <summary>Region.</summary>
        public string Region { get; set; } = "local";

        /// <summary>The folder holding <c>config/node.toml</c>.</summary>
        public string Directory { get; set; } = "";
    }
}
