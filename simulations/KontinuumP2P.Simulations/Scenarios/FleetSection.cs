using Tomlyn.Serialization;

namespace KontinuumP2P.Simulations.Scenarios;

#pragma warning disable CA2227, CA1002 // serializer-filled settings objects

/// <summary>
/// [fleet]: a fleet-health run. The scenario's <c>nodes</c> are HQ, the mailboxes and the devices (spares are started
/// only when HQ uses them). Thresholds are the product's defaults (seed §4); the network section gives latency and loss.
/// </summary>
public sealed class FleetSection
{
    /// <summary>Mailbox slots at the start.</summary>
    public int Mailboxes { get; set; } = 320;

    /// <summary>Providers the mailboxes are spread over (round robin).</summary>
    public List<string> Providers { get; set; } = ["aws", "gcp", "hetzner", "ovh"];

    /// <summary>Regions (geo zones) the mailboxes and groups are spread over.</summary>
    public List<string> Regions { get; set; } = ["eu", "us", "ap"];

    /// <summary>Groups a slot can hold.</summary>
    public int Capacity { get; set; } = 64;

    /// <summary>Spare identities per active provider (same regions round robin).</summary>
    public int SparesPerProvider { get; set; } = 10;

    /// <summary>A provider that hosts only spares (none of the starting slots), or empty.</summary>
    public string StandbyProvider { get; set; } = "";

    /// <summary>Spares on <see cref="StandbyProvider"/>.</summary>
    public int StandbySpares { get; set; }

    /// <summary>Groups, each allocated 3 slots by HQ's allocator.</summary>
    public int Groups { get; set; } = 3000;

    /// <summary>Devices per group (drawn from the device nodes).</summary>
    public int DevicesPerGroup { get; set; } = 4;

    /// <summary>How often a device syncs with its groups' mailboxes (its phase is drawn per device).</summary>
    public double DevicePollSeconds { get; set; } = 60;

    /// <summary>How often HQ's loop runs (expiry, replacement).</summary>
    public double HqTickSeconds { get; set; } = 5;

    /// <summary>Time from HQ choosing a spare to the spare serving and its slot record being published.</summary>
    public double ProvisionSeconds { get; set; } = 60;

    /// <summary>Time for a published slot record to be found by a lookup (DHT put and get).</summary>
    public double SlotPropagationSeconds { get; set; } = 5;

    /// <summary>What fails: <c>mailbox</c>, <c>provider</c> or <c>flood</c> (lying reports against healthy mailboxes).</summary>
    public string Failure { get; set; } = "mailbox";

    /// <summary>When the failure starts (minutes after the fleet is set up).</summary>
    public double FailureMinute { get; set; } = 2;

    /// <summary>mailbox: how many mailboxes die (on distinct providers, round robin).</summary>
    public int KillCount { get; set; } = 1;

    /// <summary>provider: the provider that goes down (empty: the first).</summary>
    public string FailedProvider { get; set; } = "";

    /// <summary>flood: mailboxes that receive the lying reports.</summary>
    public int FloodedMailboxes { get; set; } = 2;

    /// <summary>flood: lying devices registered at a flooded mailbox (its own groups' devices).</summary>
    public int RegisteredLiars { get; set; } = 60;

    /// <summary>flood: lying devices not registered at the flooded mailbox.</summary>
    public int UnregisteredLiars { get; set; } = 200;

    /// <summary>flood: each liar sends a report this often.</summary>
    public double LiarIntervalSeconds { get; set; } = 10;

    /// <summary>flood: how long the flood lasts.</summary>
    public double FloodMinutes { get; set; } = 10;

    /// <summary>Simulated minutes after the failure.</summary>
    public double Minutes { get; set; } = 20;

    /// <summary>Timeline resolution.</summary>
    public double SampleSeconds { get; set; } = 10;

    /// <summary>Unknown keys.</summary>
    [TomlExtensionData]
    public Dictionary<string, object?>? Unknown { get; set; }

    /// <summary>Checks every value; <paramref name="require"/> throws on the first bad one.</summary>
    internal static void Validate(FleetSection f, int nodes, Action<string, bool, object, string> require)
    {
        require("fleet.providers", f.Providers.Count >= 3 && f.Providers.Distinct().Count() == f.Providers.Count, string.Join(',', f.Providers), "3 or more distinct");
        require("fleet.regions", f.Regions.Count >= 1, string.Join(',', f.Regions), "at least one");
        require("fleet.mailboxes", f.Mailboxes >= f.Providers.Count && f.Mailboxes <= nodes - 1 - f.DevicesPerGroup, f.Mailboxes,
            "providers..nodes-1-devices_per_group");
        require("fleet.capacity", f.Capacity >= 1, f.Capacity, ">= 1");
        require("fleet.groups", f.Groups >= 1 && (long)f.Groups * 3 <= (long)f.Mailboxes * f.Capacity, f.Groups, "1..mailboxes*capacity/3");
        require("fleet.devices_per_group", f.DevicesPerGroup >= 1, f.DevicesPerGroup, ">= 1");
        require("fleet.spares_per_provider", f.SparesPerProvider >= 0, f.SparesPerProvider, ">= 0");
        require("fleet.standby_spares", f.StandbySpares >= 0 && (f.StandbySpares == 0 || f.StandbyProvider.Length > 0), f.StandbySpares, ">= 0, with standby_provider");
        require("fleet.standby_provider", !f.Providers.Contains(f.StandbyProvider), f.StandbyProvider, "not one of providers");
        require("fleet.device_poll_seconds", f.DevicePollSeconds > 0, f.DevicePollSeconds, "> 0");
        require("fleet.hq_tick_seconds", f.HqTickSeconds > 0, f.HqTickSeconds, "> 0");
        require("fleet.provision_seconds", f.ProvisionSeconds >= 0, f.ProvisionSeconds, ">= 0");
        require("fleet.slot_propagation_seconds", f.SlotPropagationSeconds >= 0, f.SlotPropagationSeconds, ">= 0");
        require("fleet.failure", f.Failure is "mailbox" or "provider" or "flood", f.Failure, "mailbox, provider or flood");
        require("fleet.failure_minute", f.FailureMinute >= 0, f.FailureMinute, ">= 0");
        require("fleet.kill_count", f.KillCount >= 1 && f.KillCount <= f.Mailboxes, f.KillCount, "1..mailboxes");
        require("fleet.failed_provider", f.FailedProvider.Length == 0 || f.Providers.Contains(f.FailedProvider), f.FailedProvider, "empty or one of providers");
        require("fleet.flooded_mailboxes", f.FloodedMailboxes >= 1 && f.FloodedMailboxes <= f.Mailboxes, f.FloodedMailboxes, "1..mailboxes");
        require("fleet.registered_liars", f.RegisteredLiars >= 0, f.RegisteredLiars, ">= 0");
        require("fleet.unregistered_liars", f.UnregisteredLiars >= 0, f.UnregisteredLiars, ">= 0");
        require("fleet.liar_interval_seconds", f.LiarIntervalSeconds > 0, f.LiarIntervalSeconds, "> 0");
        require("fleet.flood_minutes", f.FloodMinutes > 0, f.FloodMinutes, "> 0");
        require("fleet.minutes", f.Minutes is > 0 and <= 24 * 60, f.Minutes, "0 < x <= 1440");
        require("fleet.sample_seconds", f.SampleSeconds >= 1, f.SampleSeconds, ">= 1");
    }
}
