using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Dht.Rpc;
using KontinuumP2P.Dht.Tests.Fakes;

namespace KontinuumP2P.Dht.Tests.Rpc;

/// <summary>The batch members of <see cref="IKadNetwork"/> that a network need not implement.</summary>
public sealed class KadNetworkDefaultsTests
{
    [Test]
    public void Batch_look_ups_and_learning_default_to_one_peer_at_a_time()
    {
        var peers = TestPeers.Create(4, seed: 5);
        var network = new BookOnly(peers[0]);
        IKadNetwork kad = network;
        var first = new[] { Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001") };
        var second = new[] { Multiaddr.Parse("/ip4/127.0.0.2/tcp/4001") };
        kad.AddAddresses([new KadPeer(peers[0], first), new KadPeer(peers[1], first), new KadPeer(peers[2], second)]);
        var found = new IReadOnlyList<Multiaddr>[4];
        kad.GetAddresses(peers.ToArray(), found);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(network.Learnt, Is.EqualTo(new[] { peers[1], peers[2] }), "our own id is not learnt");
            Assert.That(found[0], Is.Empty);
            Assert.That(found[1], Is.SameAs(first));
            Assert.That(found[2], Is.SameAs(second));
            Assert.That(found[3], Is.Empty);
            Assert.That(() => kad.GetAddresses(peers.ToArray(), new IReadOnlyList<Multiaddr>[3]), Throws.ArgumentException);
        }
    }

    /// <summary>Implements only what <see cref="IKadNetwork"/> requires: an address book and nothing to send.</summary>
    private sealed class BookOnly(PeerId local) : IKadNetwork
    {
        private readonly Dictionary<PeerId, IReadOnlyList<Multiaddr>> _book = [];

        public List<PeerId> Learnt { get; } = [];

        public PeerId LocalPeer => local;

        public string ProtocolId => DhtOptions.KontinuumProtocolId;

        public TimeProvider TimeProvider => TimeProvider.System;

        public IReadOnlyList<Multiaddr> LocalAddresses => [];

        public IReadOnlyList<Multiaddr> GetAddresses(PeerId peer) => _book.TryGetValue(peer, out var list) ? list : [];

        public void AddAddresses(PeerId peer, IReadOnlyList<Multiaddr> addresses)
        {
            Learnt.Add(peer);
            _book[peer] = addresses;
        }

        public ValueTask<KadMessage?> SendAsync(PeerId peer, KadMessage request, CancellationToken cancellationToken) =>
            throw new NotSupportedException("an address book only");

        public void StartServing(KadRequestHandler handler)
        {
        }

        public void StopServing()
        {
        }

        public event EventHandler<PeerId>? ServerPeerDiscovered
        {
            add { }
            remove { }
        }
    }
}
