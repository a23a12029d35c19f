using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace KontinuumP2P.Net.Discovery;

/// <summary>Fans discovered peers out to every current subscriber through bounded channels.</summary>
internal sealed class DiscoveryBroadcaster
{
    private const int SubscriberCapacity = 256;
    private readonly Lock _gate = new();
    private readonly List<Channel<DiscoveredPeer>> _subscribers = [];
    private bool _completed;

    public void Publish(DiscoveredPeer peer)
    {
        lock (_gate)
        {
            foreach (var subscriber in _subscribers) subscriber.Writer.TryWrite(peer);
        }
    }

    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            foreach (var subscriber in _subscribers) subscriber.Writer.TryComplete();
            _subscribers.Clear();
        }
    }

    /// <summary>
    /// Registers a subscriber whose channel starts with <paramref name="initial"/>. Callers that publish under their own
    /// lock call this under the same lock, so a subscriber neither misses nor duplicates a peer.
    /// </summary>
    public Channel<DiscoveredPeer> Register(IEnumerable<DiscoveredPeer> initial)
    {
        var channel = Channel.CreateBounded<DiscoveredPeer>(new BoundedChannelOptions(SubscriberCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        foreach (var peer in initial) channel.Writer.TryWrite(peer);
        lock (_gate)
        {
            if (_completed) channel.Writer.TryComplete();
            else _subscribers.Add(channel);
        }
        return channel;
    }

    /// <summary>Reads a registered channel until it completes or the token fires, then unregisters it.</summary>
    public async IAsyncEnumerable<DiscoveredPeer> ReadAsync(
        Channel<DiscoveredPeer> channel, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var peer)) yield return peer;
            }
        }
        finally
        {
            lock (_gate) _subscribers.Remove(channel);
        }
    }
}
