using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Crypto;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Client;

/// <summary>
/// This device's session with one mailbox (one slot of one generation): resolves the slot, refuses nodes the verifier
/// refuses, dials, opens with the derived mailbox id, capability, device id and archive key, and reconnects after a
/// failure. The slot is resolved again when the last resolution is older than <see cref="ResolveInterval"/> (a
/// replacement node of the slot is followed).
/// </summary>
internal sealed class MailboxConnection : IAsyncDisposable
{
    public static readonly TimeSpan ResolveInterval = TimeSpan.FromSeconds(60);

    private readonly IPeerHost _host;
    private readonly IMailboxResolver _resolver;
    private readonly IMailboxVerifier _verifier;
    private readonly GroupClientOptions _options;
    private readonly SemaphoreSlim _connect = new(1, 1);
    private readonly byte[] _deviceId;
    private readonly Action<MailboxConnection>? _connected;
    private readonly Func<MailboxConnection, CancellationToken, Task<IReadOnlyCollection<string>>>? _usedProviders;
    private MailboxSession? _session;
    private MailboxEndpoint? _endpoint;
    private DateTimeOffset _resolvedAt;

    public MailboxConnection(IPeerHost host, IMailboxResolver resolver, IMailboxVerifier verifier, GroupClientOptions options,
        int generation, SlotKeys keys, byte[] deviceSecret, Action<MailboxConnection>? connected = null,
        Func<MailboxConnection, CancellationToken, Task<IReadOnlyCollection<string>>>? usedProviders = null)
    {
        _connected = connected;
        _usedProviders = usedProviders;
        _host = host;
        _resolver = resolver;
        _verifier = verifier;
        _options = options;
        Generation = generation;
        Keys = keys;
        _deviceId = GroupKeys.DeviceId(deviceSecret, keys);
    }

    public int Generation { get; }

    public SlotKeys Keys { get; }

    public string Slot => Keys.Slot;

    public PeerId? PeerId => _endpoint?.PeerId;

    /// <summary>The provider of the node this slot last resolved to (kept after a failure: the group's other
    /// mailboxes avoid it when they follow a split slot).</summary>
    public string? Provider { get; private set; }

    /// <summary>Whether the last attempt reached the mailbox.</summary>
    public bool? Reachable { get; private set; }

    public string? LastError { get; private set; }

    public MailboxOpenResult? OpenResult => _session?.OpenResult;

    /// <summary>The open session, connecting (and opening) when there is none or the last one broke.</summary>
    /// <exception cref="MailboxUnavailableException">Unresolvable, refused by the verifier, unreachable, or refused Open.</exception>
    public async Task<MailboxSession> GetSessionAsync(CancellationToken cancellationToken)
    {
        if (_session is { } live && !live.Completion.IsCompleted) return live;
        await _connect.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_session is { } again && !again.Completion.IsCompleted) return again;
            if (_session is not null) await DropAsync().ConfigureAwait(false);
            // Timed on the client's clock, as every other wait of the client.
            using var deadline = new CancellationTokenSource(_options.ConnectTimeout, _options.TimeProvider);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            try
            {
                var session = await ConnectAsync(timeout.Token).ConfigureAwait(false);
                _session = session;
                Reachable = true;
                LastError = null;
                // Tells the client which node serves the slot now (a new one means HQ moved it: re-seed).
                _connected?.Invoke(this);
                return session;
            }
            catch (Exception e) when (e is IOException or TimeoutException or OperationCanceledException or InvalidOperationException or ProtocolNotSupportedException
                                          && !cancellationToken.IsCancellationRequested)
            {
                Reachable = false;
                LastError = e is OperationCanceledException ? $"no answer within {_options.ConnectTimeout.TotalSeconds:0.#} s" : e.Message;
                // A failed dial often means the slot moved: resolve again next time.
                _endpoint = null;
                throw e as MailboxUnavailableException ?? new MailboxUnavailableException(Slot, $"mailbox {Slot}: {LastError}", e);
            }
        }
        finally
        {
            _connect.Release();
        }
    }

    /// <summary>
    /// Re-resolves the slot of a live session once its resolution is older than <paramref name="maxAge"/>: a node that
    /// is drained keeps answering, so only a fresh look at the slot's record shows that HQ moved it. When the slot
    /// names another node now, the session is dropped (the next use connects the new node). True when it moved.
    /// </summary>
    public async Task<bool> RefreshAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        if (_session is not { } live || live.Completion.IsCompleted || PeerId is not { } current || Core.Identity.PeerId.TryParse(Slot, out _)) return false;
        var now = _host.TimeProvider.GetUtcNow();
        if (now - _resolvedAt < maxAge) return false;
        await _connect.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            MailboxEndpoint endpoint;
            try
            {
                var used = _usedProviders is null ? [] : await _usedProviders(this, cancellationToken).ConfigureAwait(false);
                endpoint = await _resolver.ResolveAsync(Slot, used, cancellationToken).ConfigureAwait(false);
            }
            catch (MailboxUnavailableException)
            {
                return false; // the working session stays
            }
            _resolvedAt = now;
            if (endpoint.PeerId.Equals(current) || _verifier.Check(endpoint) is not null) return false;
            _endpoint = endpoint;
            if (endpoint.Certificate?.Body.Provider is { Length: > 0 } provider) Provider = provider;
            await DropAsync().ConfigureAwait(false);
            return true;
        }
        finally
        {
            _connect.Release();
        }
    }

    /// <summary>Marks the session broken after a failed request (the next call reconnects).</summary>
    public async Task FailAsync(Exception error)
    {
        Reachable = false;
        LastError = error.Message;
        await _connect.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await DropAsync().ConfigureAwait(false);
        }
        finally
        {
            _connect.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _connect.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await DropAsync().ConfigureAwait(false);
        }
        finally
        {
            _connect.Release();
        }
        _connect.Dispose();
    }

    /// <summary>The session settings on the client's clock (unless the session was given its own).</summary>
    private MailboxSessionOptions SessionOptions => _options.Session.TimeProvider == TimeProvider.System
        ? _options.Session with { TimeProvider = _options.TimeProvider }
        : _options.Session;

    private async Task<MailboxSession> ConnectAsync(CancellationToken cancellationToken)
    {
        var now = _host.TimeProvider.GetUtcNow();
        if (_endpoint is null || now - _resolvedAt >= ResolveInterval)
        {
            // A split slot answers the node on a provider the group's other mailboxes do not use.
            var used = _usedProviders is null ? [] : await _usedProviders(this, cancellationToken).ConfigureAwait(false);
            var endpoint = await _resolver.ResolveAsync(Slot, used, cancellationToken).ConfigureAwait(false);
            if (_verifier.Check(endpoint) is { } refusal) throw new MailboxUnavailableException(Slot, $"mailbox {Slot}: {refusal}");
            _endpoint = endpoint;
            if (endpoint.Certificate?.Body.Provider is { Length: > 0 } provider) Provider = provider;
            _resolvedAt = now;
        }
        var target = _endpoint;
        if (target.Addresses.Count > 0) _host.PeerStore.AddAddresses(target.PeerId, target.Addresses, TimeSpan.FromMinutes(10));
        var session = await MailboxSession.ConnectAsync(_host, target.PeerId, SessionOptions, cancellationToken).ConfigureAwait(false);
        try
        {
            await session.OpenAsync(Keys.MailboxId, Keys.Capability, _deviceId, _options.SendArchiveKey ? Keys.ArchiveKey : ReadOnlyMemory<byte>.Empty,
                cancellationToken).ConfigureAwait(false);
            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task DropAsync()
    {
        var session = _session;
        _session = null;
        if (session is not null) await session.DisposeAsync().ConfigureAwait(false);
    }
}
