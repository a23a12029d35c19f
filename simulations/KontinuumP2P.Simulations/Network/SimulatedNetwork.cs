using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Simulations.Time;
using System.Threading.Tasks.Sources;

namespace KontinuumP2P.Simulations.Network;

/// <summary>
/// A simulated network in virtual time: each request and each response is a scheduled delivery with the link's
/// latency (<see cref="LinkModel"/>); a lost message never arrives (the sender's timeout fires); a partition drops
/// messages between groups; a departed node is unreachable (the sender learns it after one trip, like a refused
/// connection). Messages are handed over as objects with their exact encoded size (<see cref="KadHandover"/>), or go
/// through the real kad codec both ways when <see cref="Codec"/> is set. Transport layers (TCP, Noise, Yamux) are not modelled.
/// </summary>
public sealed class SimulatedNetwork
{
    private readonly Dictionary<PeerId, SimulatedEndpoint> _endpoints = [];
    // The real addresses of every node ever attached, with a dense slot number that address books index by.
    private readonly Dictionary<PeerId, CanonicalAddresses> _canonical = [];
    private readonly Lock _lock = new();
    private volatile Func<int, int>? _partition;
    private long _sent;
    private long _delivered;
    private long _dropped;
    private long _bytes;

    /// <summary>Creates a network on <paramref name="time"/> with <paramref name="links"/>.</summary>
    public SimulatedNetwork(VirtualTimeProvider time, LinkModel links)
    {
        ArgumentNullException.ThrowIfNull(links);
        links.Validate();
        Time = time;
        Links = links;
    }

    /// <summary>The clock.</summary>
    public VirtualTimeProvider Time { get; }

    /// <summary>Encode and decode every message with the real kad codec (slower; results are the same as without).</summary>
    public bool Codec { get; init; }

    /// <summary>The link properties.</summary>
    public LinkModel Links { get; }

    /// <summary>Messages sent (requests and responses).</summary>
    public long MessagesSent => Interlocked.Read(ref _sent);

    /// <summary>Messages delivered.</summary>
    public long MessagesDelivered => Interlocked.Read(ref _delivered);

    /// <summary>Messages lost, dropped by a partition, or sent to a departed node.</summary>
    public long MessagesDropped => Interlocked.Read(ref _dropped);

    /// <summary>Encoded bytes sent.</summary>
    public long BytesSent => Interlocked.Read(ref _bytes);

    /// <summary>Attaches a node with number <paramref name="index"/> (unique, stable: it orders simultaneous events).</summary>
    public SimulatedEndpoint Attach(int index, PeerCredentials credentials, Multiaddr address, string protocolId)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        lock (_lock)
        {
            if (_endpoints.ContainsKey(credentials.PeerId)) throw new InvalidOperationException($"{credentials.PeerId} is attached already");
            var slot = _canonical.Count;
            if (_canonical.TryGetValue(credentials.PeerId, out var earlier))
            {
                slot = earlier.Slot;
                // Attached again: its earlier list no longer speaks for it without a look-up.
                earlier.IsCurrent = false;
            }
            var endpoint = new SimulatedEndpoint(this, index, new CanonicalAddresses(credentials.PeerId, slot, [address]), credentials, protocolId);
            _endpoints[credentials.PeerId] = endpoint;
            _canonical[credentials.PeerId] = endpoint.Canonical;
            return endpoint;
        }
    }

    /// <summary>Detaches a node: messages to it fail from now on (messages in flight included).</summary>
    public void Detach(PeerId peer)
    {
        lock (_lock)
        {
            if (_endpoints.Remove(peer, out var endpoint)) endpoint.IsAttached = false;
        }
    }

    /// <summary>Splits the network: nodes whose group numbers differ cannot talk. Null heals it.</summary>
    public void SetPartition(Func<int, int>? groupOfIndex) => _partition = groupOfIndex;

    /// <summary>Whether nodes <paramref name="a"/> and <paramref name="b"/> can talk now.</summary>
    public bool CanTalk(int a, int b)
    {
        // Read for every message (twice a request): one volatile read, no lock.
        var partition = _partition;
        return partition is null || partition(a) == partition(b);
    }

    private SimulatedEndpoint? Endpoint(PeerId peer)
    {
        lock (_lock) return _endpoints.GetValueOrDefault(peer);
    }

    /// <summary>The real addresses of an attached (or once attached) node and its slot number (dense, never reused).</summary>
    internal bool TryGetCanonical(PeerId peer, out int slot, out IReadOnlyList<Multiaddr> addresses)
    {
        lock (_lock)
        {
            if (_canonical.TryGetValue(peer, out var known))
            {
                (slot, addresses) = (known.Slot, known);
                return true;
            }
        }
        (slot, addresses) = (-1, []);
        return false;
    }

    /// <summary>
    /// <see cref="TryGetCanonical"/> for several peers under one lock: their slots (-1 when never attached) and real
    /// addresses (empty then).
    /// </summary>
    internal void FindCanonical(ReadOnlySpan<PeerId> peers, Span<int> slots, Span<IReadOnlyList<Multiaddr>> addresses)
    {
        lock (_lock)
        {
            for (var i = 0; i < peers.Length; i++)
            {
                if (_canonical.TryGetValue(peers[i], out var known)) (slots[i], addresses[i]) = (known.Slot, known);
                else (slots[i], addresses[i]) = (-1, []);
            }
        }
    }

    internal ValueTask<KadMessage?> SendAsync(SimulatedEndpoint from, PeerId to, KadMessage request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var target = Endpoint(to);
        // The target's slot numbers our messages to it (a departed node keeps its slot; -1: never attached).
        var toSlot = target?.Slot ?? (TryGetCanonical(to, out var slot, out _) ? slot : -1);
        var call = new Call(this, from, to, target, toSlot, request, cancellationToken);
        call.Start();
        return call.Completion;
    }

    private void Count(int bytes)
    {
        Interlocked.Increment(ref _sent);
        Interlocked.Add(ref _bytes, bytes);
    }

    /// <summary>
    /// One request and its response. Completion runs continuations synchronously on the driver thread, which keeps most
    /// of a node's reaction to a message inside the same event. The call is its own value-task source (no
    /// <see cref="TaskCompletionSource{TResult}"/> and task per request) and the state of its scheduled deliveries (no
    /// closure per message).
    /// </summary>
    private sealed class Call : IValueTaskSource<KadMessage?>
    {
        private static readonly Action<object?> DeliverRequest = static state => ((Call)state!).Deliver();
        private static readonly Action<object?> DeliverReply = static state => ((Call)state!).ReplyArrived();
        private static readonly Action<object?> Cancelled = static state => ((Call)state!).Complete(null, new OperationCanceledException(((Call)state!)._cancellation));
        private readonly SimulatedNetwork _network;
        private readonly SimulatedEndpoint _from;
        private readonly PeerId _to;
        private readonly SimulatedEndpoint? _toEndpoint; // attached at send time
        private readonly int _toIndex;
        private readonly int _toSlot;
        private readonly KadMessage _request;
        private readonly CancellationToken _cancellation;
        private ManualResetValueTaskSourceCore<KadMessage?> _completion;
        private CancellationTokenRegistration _registration;
        private int _completed;
        // What the receiver gets: the encoded bytes (codec mode) or the object it would decode from them.
        private byte[]? _requestBytes;
        private KadMessage? _received;
        // The reply on its way back, and the failure to report instead.
        private SimulatedEndpoint? _target;
        private KadMessage? _answer;
        private Exception? _failure;

        public Call(SimulatedNetwork network, SimulatedEndpoint from, PeerId to, SimulatedEndpoint? toEndpoint, int toSlot, KadMessage request, CancellationToken cancellation)
        {
            _toSlot = toSlot;
            _network = network;
            _from = from;
            _to = to;
            _toEndpoint = toEndpoint;
            _toIndex = toEndpoint?.Index ?? -1;
            _request = request;
            _cancellation = cancellation;
        }

        public ValueTask<KadMessage?> Completion => new(this, _completion.Version);

        public KadMessage? GetResult(short token) => _completion.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);

        public void Start()
        {
            int size;
            if (_network.Codec)
            {
                _requestBytes = KadMessageCodec.Encode(_request);
                size = _requestBytes.Length;
            }
            else
            {
                size = KadHandover.WireSize(_request);
                _received = KadHandover.AsReceived(_request);
            }
            _network.Count(size);
            if (_cancellation.CanBeCanceled) _registration = _cancellation.UnsafeRegister(Cancelled, this);
            var sequence = _from.NextSequence(_to, _toSlot);
            var links = _network.Links;
            var delay = links.Delay(_from.Index, _toIndex, sequence, size);
            if (_toIndex >= 0 && links.IsLost(_from.Index, _toIndex, sequence))
            {
                Interlocked.Increment(ref _network._dropped);
                return; // the sender's timeout ends the call
            }
            _network.Time.Schedule(delay, EventLane.Network, _from.Index, _toIndex, sequence, DeliverRequest, this);
        }

        private void Deliver()
        {
            // The endpoint the request was sent to, while it is still attached (the common case: no look-up); else
            // whatever is attached under that id now (none, or the node attached again).
            var target = _toEndpoint is { IsAttached: true } attached ? attached : _network.Endpoint(_to);
            if (target is null || target.Handler is not { } handler || target.ProtocolId != _from.ProtocolId)
            {
                Interlocked.Increment(ref _network._dropped);
                // Nobody listens there: the sender hears it after the way back, like a refused connection.
                var back = _network.Links.Delay(_toIndex, _from.Index, 0, 0);
                _network.Time.Schedule(back, EventLane.Network, _toIndex, _from.Index, -_from.NextSequence(_to, _toSlot),
                    () => Complete(null, new IOException($"{_to} is unreachable")));
                return;
            }
            if (!_network.CanTalk(_from.Index, target.Index))
            {
                Interlocked.Increment(ref _network._dropped);
                return;
            }
            Interlocked.Increment(ref _network._delivered);
            target.Contacts?.OnContact(_from.Credentials);
            target.AddAddresses(_from.LocalPeer, _from.LocalAddresses); // what identify does on a real connection
            var request = _received ?? KadMessageCodec.Decode(_requestBytes!);
            _requestBytes = null;
            _received = null;
            ValueTask<KadMessage?> handling;
            try
            {
                handling = handler(_from.LocalPeer, request, CancellationToken.None);
            }
            catch (InvalidDataException e)
            {
                Reply(target, null, e);
                return;
            }
            if (handling.IsCompleted) Finish(target, request, handling.AsTask());
            else handling.AsTask().ContinueWith(t => Finish(target, request, t), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        /// <summary>
        /// Sends the handler's outcome back. It runs as a continuation nobody awaits, so it must not throw: a failure
        /// here (a rewriter or the encoder) fails the sender's request at once instead of leaving it to time out.
        /// </summary>
        private void Finish(SimulatedEndpoint target, KadMessage request, Task<KadMessage?> handled)
        {
            try
            {
                if (handled.IsCompletedSuccessfully)
                {
                    var answer = handled.Result; // completed: no blocking
                    if (answer is not null && target.Rewriter is { } rewrite) answer = rewrite(_from.LocalPeer, request, answer);
                    Reply(target, answer, null);
                }
                else
                {
                    Reply(target, null, handled.Exception?.InnerException ?? new IOException("handler failed"));
                }
            }
            catch (Exception e)
            {
                Complete(null, new IOException($"simulated reply failed: {e.Message}", e));
            }
        }

        private void Reply(SimulatedEndpoint target, KadMessage? answer, Exception? failure)
        {
            byte[]? bytes = null;
            KadMessage? received = null;
            var size = 0;
            if (answer is not null && !_network.Codec && KadHandover.WireSize(answer) is var wire && wire <= KadMessageCodec.TargetResponseSize)
            {
                size = wire;
                received = KadHandover.AsReceived(answer);
            }
            else if (answer is not null)
            {
                bytes = KadMessageCodec.EncodeTrimmed(answer); // over the target size: trimmed as the real encoder does
                size = bytes.Length;
            }
            _network.Count(size);
            var sequence = target.NextSequence(_from.LocalPeer, _from.Slot);
            var links = _network.Links;
            if (links.IsLost(target.Index, _from.Index, sequence))
            {
                Interlocked.Increment(ref _network._dropped);
                return;
            }
            _target = target;
            _answer = received; // null with the codec or over the target size: then the bytes are decoded on arrival
            _requestBytes = bytes;
            _failure = failure;
            _network.Time.Schedule(links.Delay(target.Index, _from.Index, sequence, size), EventLane.Network, target.Index, _from.Index, sequence,
                DeliverReply, this);
        }

        private void ReplyArrived()
        {
            // Runs even when the caller gave up meanwhile (cancelled): the message still arrives and is counted.
            var target = _target!;
            if (!_network.CanTalk(target.Index, _from.Index))
            {
                Interlocked.Increment(ref _network._dropped);
                return;
            }
            Interlocked.Increment(ref _network._delivered);
            _from.Contacts?.OnContact(target.Credentials);
            if (_failure is { } failure) Complete(null, failure is InvalidDataException ? new StreamResetException("reset", failure) : failure);
            else Complete(_answer ?? (_requestBytes is { } bytes ? KadMessageCodec.Decode(bytes) : null), null);
        }

        /// <summary>Completes the call once (the reply, a failure, or the caller's cancellation, whichever comes first).</summary>
        private void Complete(KadMessage? answer, Exception? failure)
        {
            if (Interlocked.Exchange(ref _completed, 1) != 0) return;
            _registration.Unregister();
            if (failure is not null) _completion.SetException(failure);
            else _completion.SetResult(answer);
        }
    }
}
