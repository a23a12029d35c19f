namespace KontinuumP2P.Mailbox.Client;

public sealed partial class GroupClient
{
    /// <summary>
    /// The providers of this generation's other mailboxes, which a split slot must avoid. A mailbox not resolved yet
    /// is looked up once (its answer is not kept: only its provider is needed), so the first connection of a fresh
    /// client already keeps its group on distinct providers; one that cannot be resolved now counts on no provider.
    /// </summary>
    private async Task<IReadOnlyCollection<string>> UsedProvidersAsync(MailboxConnection self, CancellationToken cancellationToken)
    {
        var providers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var other in Connections.Where(c => c != self && c.Generation == self.Generation))
        {
            if (other.Provider is { } known)
            {
                providers.Add(known);
                continue;
            }
            try
            {
                var endpoint = await _resolver.ResolveAsync(other.Slot, cancellationToken).ConfigureAwait(false);
                if (endpoint.Certificate?.Body.Provider is { Length: > 0 } provider) providers.Add(provider);
            }
            catch (MailboxUnavailableException)
            {
                // Unknown for now; the slot is resolved again on the next connection.
            }
        }
        return providers;
    }
}
