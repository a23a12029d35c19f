using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KontinuumP2P.Devnet;

/// <summary>Settings of a local development network.</summary>
public sealed class DevnetOptions
{
    /// <summary>Nodes that also serve mailboxes, each on its own provider label (0 = none; at most the node count less the two nodes the demo devices run on).</summary>
    [Range(0, 3)]
    public int MailboxNodes { get; init; } = 3;

    /// <summary>Number of certified nodes.</summary>
    [Range(2, 64)]
    public int Nodes { get; set; } = 5;

    /// <summary>Anchor keys of the genesis.</summary>
    [Range(1, 16)]
    public int Anchors { get; set; } = 1;

    /// <summary>Signatures required on certificates and CRLs.</summary>
    [Range(1, 16)]
    public int Threshold { get; set; } = 1;

    /// <summary>Folder for the genesis and each node's state, kept after the run; a temporary folder removed at the end when null.</summary>
    public string? Directory { get; set; }

    /// <summary>Logging of the nodes.</summary>
    public ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;

    /// <summary>The clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Metrics of every node; private meters when null.</summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>
    /// The Tier 0 to use (e.g. one that already certified an HQ started before the devnet); the runner then does not
    /// dispose it and <see cref="Anchors"/> and <see cref="Threshold"/> are ignored. A fresh one when null.
    /// </summary>
    public DevnetAuthority? Authority { get; init; }

    /// <summary>Peers the first node bootstraps from (e.g. HQ's node, started before the devnet so that mailboxes know its address).</summary>
    public IReadOnlyList<KontinuumP2P.Core.Addressing.Multiaddr> BootstrapPeers { get; init; } = [];

    /// <summary>Health settings (HQ's address, thresholds) of every mailbox node; the node defaults (no HQ) when null.</summary>
    public KontinuumP2P.Node.Hosting.NodeHealthOptions? MailboxHealth { get; init; }

    /// <summary>
    /// Whether the demo group names its mailboxes by slot (<c>mbx-a</c>, <c>mbx-b</c>, … resolved through HQ's
    /// <c>/slot/</c> records) rather than by the mailbox nodes' peer ids.
    /// </summary>
    public bool GroupUsesSlots { get; init; }
}

/// <summary>One node's line of the devnet status table.</summary>
/// <param name="Index">Position in the devnet.</param>
/// <param name="PeerId">Its peer id.</param>
/// <param name="Address">Its first listen address with <c>/p2p/</c>.</param>
/// <param name="RoutingTable">Routing-table entries.</param>
/// <param name="Resolved">Other nodes whose record it resolved in the last round.</param>
/// <param name="Others">Other nodes in the devnet.</param>
/// <param name="CrlNumber">Number of the CRL in force (0 when none).</param>
/// <param name="CrlStale">Whether that CRL is past next_update.</param>
public sealed record DevnetNodeStatus(int Index, string PeerId, string Address, int RoutingTable, int Resolved, int Others,
    ulong CrlNumber, bool CrlStale);

/// <summary>A status snapshot of the devnet.</summary>
/// <param name="Network">The network name.</param>
/// <param name="Directory">Where the genesis and node state live.</param>
/// <param name="Nodes">One line per node.</param>
/// <param name="Lookups">Record lookups made in the last round.</param>
/// <param name="LookupFailures">Lookups that found no valid record.</param>
/// <param name="LookupMsMedian">Median lookup time in milliseconds.</param>
/// <param name="ElapsedSeconds">Seconds since the devnet started.</param>
public sealed record DevnetStatus(string Network, string Directory, IReadOnlyList<DevnetNodeStatus> Nodes, int Lookups,
    int LookupFailures, double LookupMsMedian, double ElapsedSeconds)
{
    /// <summary>The mailbox nodes (one per provider label).</summary>
    public IReadOnlyList<DevnetMailboxStatus> Mailboxes { get; init; } = [];

    /// <summary>The demo group of two devices, when mailboxes run.</summary>
    public DevnetGroupStatus? Group { get; init; }

    /// <summary>The archive pusher on the replica mailbox node, when mailboxes run.</summary>
    public DevnetArchiveStatus? Archive { get; init; }

    /// <summary>The archive holders (every node but the pusher's) the <c>peers</c> sink stores each pack on.</summary>
    public IReadOnlyList<DevnetHolderStatus> Holders { get; init; } = [];
}

/// <summary>One mailbox node of the devnet.</summary>
/// <param name="Index">Node index.</param>
/// <param name="Provider">The provider label of its certificate.</param>
/// <param name="Groups">Mailboxes it holds (one per group; it cannot tell groups apart otherwise).</param>
/// <param name="Blobs">Blobs stored.</param>
/// <param name="PushesPerSecond">Pushes committed per second since the last round.</param>
public sealed record DevnetMailboxStatus(int Index, string Provider, long Groups, long Blobs, double PushesPerSecond);

/// <summary>The devnet's demo group: two devices that push and pull every round.</summary>
/// <param name="Directory">The first device's group directory (try the CLI with <c>--group</c>).</param>
/// <param name="Pushed">Blobs pushed by both devices so far.</param>
/// <param name="Applied">Blobs each device applied from the other, summed.</param>
/// <param name="Pending">Blobs pushed by one device and not yet applied by the other.</param>
/// <param name="Outbox">Outbox rows of both devices (blobs owed to an unreachable mailbox).</param>
public sealed record DevnetGroupStatus(string Directory, int Pushed, int Applied, int Pending, int Outbox);
