using KontinuumP2P.Hq.Registry;

namespace KontinuumP2P.Hq.Provisioning;

/// <summary>A node HQ started for a slot.</summary>
/// <param name="Slot">The slot it serves.</param>
/// <param name="NodeId">Its peer id (the spare identity's).</param>
/// <param name="ListenAddresses">Where it listens, as it announced.</param>
/// <param name="ProcessId">Local process id, when local.</param>
public sealed record ProvisionedNode(string Slot, string NodeId, IReadOnlyList<string> ListenAddresses, int? ProcessId);

/// <summary>
/// Starts and stops mailbox nodes for HQ. Implementations use identities Tier 0 certified ahead of time (the spare
/// pool), so a replacement needs no online ceremony. Only a local implementation exists: cloud provider APIs are out of
/// reach here and are not faked.
/// </summary>
public interface IProvisioner
{
    /// <summary>Starts a node from <paramref name="spare"/> for <paramref name="slot"/>; returns once it announced itself.</summary>
    Task<ProvisionedNode> StartAsync(SpareEntry spare, string slot, CancellationToken cancellationToken);

    /// <summary>Stops a node this provisioner started (graceful, then forced after the timeout).</summary>
    Task StopAsync(string nodeId, TimeSpan timeout, CancellationToken cancellationToken);
}
