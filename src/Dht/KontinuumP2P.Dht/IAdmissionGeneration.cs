using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Dht;

/// <summary>
/// An <see cref="IPeerAdmission"/> whose servable answers can be kept beside the routing entries: it numbers the
/// changes that could take a servable answer back. Internal (the certificate admission of the node implements it); any
/// other admission is asked for every entry, as before.
/// </summary>
internal interface IAdmissionGeneration
{
    /// <summary>
    /// Grows whenever a peer that <see cref="GetState(PeerId, out long)"/> reported with a generation may no longer get
    /// the same answer: a peer it was asked about stops being held (connected), or a held peer is decided anything
    /// but admitted.
    /// </summary>
    long Generation { get; }

    /// <summary>
    /// <see cref="IPeerAdmission.GetState"/>, with the <see cref="Generation"/> under which the answer stays the same and
    /// asking again would change nothing (no side effect skipped), or -1 when it must be asked again every time.
    /// </summary>
    PeerAdmissionState GetState(PeerId peer, out long generation);
}
