using KontinuumP2P.Certs.Certificates;
using KontinuumP2P.Certs.Revocation;
using KontinuumP2P.Certs.Trust;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Node.Records;
using Microsoft.Extensions.Logging;

namespace KontinuumP2P.Node.Hosting;

public sealed partial class KontinuumNode
{
    /// <summary>Disjoint lookup paths of a CRL refresh.</summary>
    public const int CrlDisjointPaths = 3;

    /// <summary>Signs a fresh record of our certificate and listen addresses and puts it into the DHT.</summary>
    /// <returns>How many peers stored it.</returns>
    /// <exception cref="InvalidOperationException">The node has no certificate.</exception>
    public Task<int> PublishNodeRecordAsync(CancellationToken cancellationToken) =>
        PublishNodeRecordAsync(ListenAddresses, cancellationToken);

    /// <summary>
    /// Signs a fresh record of our certificate with the given addresses (for a node published from elsewhere, e.g.
    /// by <c>kontinuum cert publish</c>, or behind a NAT mapping) and puts it into the DHT.
    /// </summary>
    /// <returns>How many peers stored it.</returns>
    /// <exception cref="InvalidOperationException">The node has no certificate.</exception>
    /// <exception cref="ArgumentException">More than <see cref="NodeRecord.MaxAddresses"/> addresses.</exception>
    public async Task<int> PublishNodeRecordAsync(IReadOnlyList<Multiaddr> addresses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var certificate = _options.Certificate ?? throw new InvalidOperationException("a node without a certificate publishes no record");
        var sequence = Interlocked.Increment(ref _recordSequence);
        var record = NodeRecord.Create(certificate, addresses, sequence, _options.Identity!);
        var stored = await Dht.PutValueAsync(RecordKeys.ForNode(PeerId), record.Encode(), cancellationToken).ConfigureAwait(false);
        LogRecordPublished(_logger, sequence, stored);
        return stored;
    }

    /// <summary>
    /// Checks a certificate against this network's anchors and the CRL in force, as every peer's admission does; null
    /// on the open network (no anchors).
    /// </summary>
    public CertificateVerification? VerifyCertificate(Certificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return _crl?.Anchors.VerifyCertificate(certificate, _crl);
    }

    /// <summary>
    /// Looks a node's record up in the DHT (never from a local copy alone) and returns the best valid one, or null. The
    /// DHT's validator has already checked its certificate, revocation and signature.
    /// </summary>
    public async Task<NodeRecord?> ResolveNodeAsync(PeerId node, CancellationToken cancellationToken)
    {
        NodeRecord? best = null;
        await foreach (var value in Dht.GetValueAsync(RecordKeys.ForNode(node), cancellationToken: cancellationToken).ConfigureAwait(false))
            best = NodeRecord.Decode(value.Record.Value.Span);
        return best;
    }

    /// <summary>
    /// Fetches the CRL from the DHT under every anchor key (quorum, over <see cref="CrlDisjointPaths"/> disjoint paths)
    /// and installs the newest one that the tracker accepts (threshold, no rollback below the persisted high-water mark). Returns what the tracker said, or null when the
    /// DHT had none.
    /// </summary>
    /// <exception cref="CrlEquivocationException">Two different CRLs carry the accepted number: an alarm for operators.</exception>
    public async Task<CrlAcceptance?> RefreshCrlAsync(CancellationToken cancellationToken)
    {
        if (_crl is null) return null;
        Crl? newest = null;
        foreach (var anchor in _crl.Anchors.Current.Anchors)
        {
            // Disjoint paths: a CRL withheld or replaced by a few malicious peers on one path still arrives by another.
            await foreach (var value in Dht.GetValueAsync(RecordKeys.ForCrl(anchor.PublicKey.Span), quorum: null, CrlDisjointPaths, cancellationToken)
                               .ConfigureAwait(false))
            {
                var crl = Crl.Decode(value.Record.Value.Span);
                if (newest is null || crl.Body.CrlNumber > newest.Body.CrlNumber) newest = crl;
            }
        }
        return newest is null ? null : Install(newest);
    }

    /// <summary>Installs a CRL locally (if the tracker accepts it) and puts it into the DHT under every anchor key.</summary>
    /// <returns>What the tracker said and how many peers stored it.</returns>
    /// <exception cref="InvalidOperationException">The network has no anchors.</exception>
    public async Task<(CrlAcceptance Acceptance, int Stored)> PublishCrlAsync(Crl crl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(crl);
        if (_crl is null) throw new InvalidOperationException($"network '{Network.Name}' has no anchors and no CRL");
        var acceptance = Install(crl);
        if (!acceptance.IsCurrent) return (acceptance, 0);
        var stored = 0;
        var bytes = crl.Encode();
        foreach (var anchor in _crl.Anchors.Current.Anchors)
            stored += await Dht.PutValueAsync(RecordKeys.ForCrl(anchor.PublicKey.Span), bytes, cancellationToken).ConfigureAwait(false);
        return (acceptance, stored);
    }

    /// <summary>
    /// Offers a CRL obtained out of band (a file, a test, a simulation's starting state) to the tracker without publishing
    /// it; when accepted, every peer is judged again and the revoked ones leave the routing table.
    /// </summary>
    /// <exception cref="InvalidOperationException">The network has no anchors.</exception>
    public CrlAcceptance InstallCrl(Crl crl)
    {
        ArgumentNullException.ThrowIfNull(crl);
        if (_crl is null) throw new InvalidOperationException($"network '{Network.Name}' has no anchors and no CRL");
        return Install(crl);
    }

    private CrlAcceptance Install(Crl crl)
    {
        var acceptance = _crl!.Accept(crl);
        if (acceptance.Status == CrlAcceptanceStatus.Accepted)
        {
            LogCrlAccepted(_logger, acceptance.CrlNumber);
            Admission?.Rejudge();
        }
        if (acceptance.Stale) LogCrlStale(_logger, acceptance.HighWaterMark);
        return acceptance;
    }

    /// <summary>
    /// One republish round. Network trouble is expected and logged here; anything else (a record our own validators
    /// refuse, a store error) goes to <see cref="Loops"/>, which reports it, and the next round still runs.
    /// </summary>
    private async Task RepublishRoundAsync(CancellationToken cancellationToken)
    {
        try
        {
            await PublishNodeRecordAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or TimeoutException)
        {
            LogRepeatFailed(_logger, "node record republish", e.Message);
        }
    }

    /// <summary>One CRL refresh round (failures as for <see cref="RepublishRoundAsync"/>).</summary>
    private async Task CrlRefreshRoundAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RefreshCrlAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CrlEquivocationException e)
        {
            LogEquivocation(_logger, e.CrlNumber, e.AcceptedBodySha256, e.OfferedBodySha256);
        }
        catch (Exception e) when (e is IOException or TimeoutException or FormatException)
        {
            LogRepeatFailed(_logger, "CRL refresh", e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "node record {Sequence} published to {Stored} peers")]
    private static partial void LogRecordPublished(ILogger logger, ulong sequence, int stored);

    [LoggerMessage(Level = LogLevel.Information, Message = "CRL {Number} accepted")]
    private static partial void LogCrlAccepted(ILogger logger, ulong number);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the CRL in force ({Number}) is past its next_update: stale")]
    private static partial void LogCrlStale(ILogger logger, ulong number);

    [LoggerMessage(Level = LogLevel.Critical, Message = "CRL equivocation: number {Number} seen with bodies {Accepted} and {Offered}")]
    private static partial void LogEquivocation(ILogger logger, ulong number, string accepted, string offered);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{What} failed: {Reason}")]
    private static partial void LogRepeatFailed(ILogger logger, string what, string reason);
}
