using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Net.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace KontinuumP2P.Net.Tests.Hosting;

[TestFixture]
public sealed class PeerStoreTests
{
    private readonly List<Ed25519Identity> _identities = [];

    [TearDown]
    public void DisposeIdentities()
    {
        foreach (var identity in _identities) identity.Dispose();
        _identities.Clear();
    }

    [Test]
    public void Addresses_expire_after_their_ttl_and_lose_their_p2p_suffix()
    {
        var clock = new FakeTimeProvider();
        var store = new PeerStore(10, clock);
        var peer = NewPeer();
        store.AddAddresses(peer.PeerId, [Multiaddr.Parse("/ip4/1.1.1.1/tcp/1").WithPeerId(peer.PeerId)], TimeSpan.FromMinutes(1));
        store.AddAddresses(peer.PeerId, [Multiaddr.Parse("/ip4/2.2.2.2/tcp/2")], TimeSpan.FromMinutes(10));
        Assert.That(store.GetAddresses(peer.PeerId).Select(a => a.ToString()), Is.EquivalentTo(new[] { "/ip4/1.1.1.1/tcp/1", "/ip4/2.2.2.2/tcp/2" }));
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.That(store.GetAddresses(peer.PeerId).Select(a => a.ToString()), Is.EqualTo(new[] { "/ip4/2.2.2.2/tcp/2" }));
    }

    [Test]
    public void Capacity_forgets_the_least_recently_updated_peer()
    {
        var store = new PeerStore(2, new FakeTimeProvider());
        var (a, b, c) = (NewPeer(), NewPeer(), NewPeer());
        store.SetAgentVersion(a.PeerId, "a");
        store.SetAgentVersion(b.PeerId, "b");
        store.SetAgentVersion(a.PeerId, "a2");
        store.SetAgentVersion(c.PeerId, "c");
        Assert.That(store.Count, Is.EqualTo(2));
        Assert.That(store.Get(b.PeerId), Is.Null);
        Assert.That(store.Get(a.PeerId)!.AgentVersion, Is.EqualTo("a2"));
    }

    [Test]
    public void Keys_must_match_the_peer_and_absent_keys_read_as_null()
    {
        var store = new PeerStore(10, new FakeTimeProvider());
        var (a, b) = (NewPeer(), NewPeer());
        Assert.That(() => store.SetPublicKey(a.PeerId, b.EncodedPublicKey), Throws.ArgumentException);
        store.SetProtocols(a.PeerId, ["/x"]);
        Assert.That(store.Get(a.PeerId)!.PublicKey, Is.Null);
        store.SetPublicKey(a.PeerId, a.EncodedPublicKey);
        Assert.That(store.Get(a.PeerId)!.PublicKey!.Value.ToArray(), Is.EqualTo(a.EncodedPublicKey));
    }

    [Test]
    public void Per_peer_lists_are_bounded()
    {
        var store = new PeerStore(10, new FakeTimeProvider());
        var peer = NewPeer();
        store.SetProtocols(peer.PeerId, Enumerable.Range(0, 1000).Select(i => $"/p/{i}"));
        store.AddAddresses(peer.PeerId, Enumerable.Range(1, 100).Select(i => Multiaddr.Parse($"/ip4/10.0.0.{i}/tcp/1")), TimeSpan.FromHours(1));
        var info = store.Get(peer.PeerId)!;
        Assert.That(info.Protocols, Has.Count.EqualTo(PeerStore.MaxProtocolsPerPeer));
        Assert.That(info.Addresses, Has.Count.EqualTo(PeerStore.MaxAddressesPerPeer));
    }

    [Test]
    public void The_address_list_is_handed_out_once_per_set_of_addresses()
    {
        var clock = new FakeTimeProvider();
        var store = new PeerStore(10, clock);
        var peer = NewPeer().PeerId;
        store.AddAddresses(peer, [Multiaddr.Parse("/ip4/1.1.1.1/tcp/1")], TimeSpan.FromMinutes(1));
        store.AddAddresses(peer, [Multiaddr.Parse("/ip4/2.2.2.2/tcp/2")], TimeSpan.FromMinutes(10));
        var first = store.GetAddresses(peer);
        var again = store.GetAddresses(peer);
        // A known address with a later expiry changes no member of the set.
        store.AddAddresses(peer, [Multiaddr.Parse("/ip4/1.1.1.1/tcp/1")], TimeSpan.FromMinutes(5));
        var extended = store.GetAddresses(peer);
        store.AddAddresses(peer, [Multiaddr.Parse("/ip4/3.3.3.3/tcp/3")], TimeSpan.FromMinutes(10));
        var grown = store.GetAddresses(peer);
        clock.Advance(TimeSpan.FromMinutes(6));
        var expired = store.GetAddresses(peer);
        store.AddAddresses(peer, Enumerable.Range(1, 40).Select(i => Multiaddr.Parse($"/ip4/10.0.0.{i}/tcp/1")), TimeSpan.FromHours(1));
        var trimmed = store.GetAddresses(peer);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(again, Is.SameAs(first), "nothing changed: the same list");
            Assert.That(extended, Is.SameAs(first), "a later expiry is not a new set");
            Assert.That(grown, Is.Not.SameAs(first));
            Assert.That(grown.Select(a => a.ToString()), Is.EquivalentTo(new[] { "/ip4/1.1.1.1/tcp/1", "/ip4/2.2.2.2/tcp/2", "/ip4/3.3.3.3/tcp/3" }));
            Assert.That(first, Has.Count.EqualTo(2), "a list handed out is never changed afterwards");
            Assert.That(expired.Select(a => a.ToString()), Is.EquivalentTo(new[] { "/ip4/2.2.2.2/tcp/2", "/ip4/3.3.3.3/tcp/3" }));
            Assert.That(trimmed, Has.Count.EqualTo(PeerStore.MaxAddressesPerPeer));
            Assert.That(() => ((IList<Multiaddr>)trimmed).Clear(), Throws.TypeOf<NotSupportedException>(), "callers cannot change the shared list");
            Assert.That(store.GetAddresses(NewPeer().PeerId), Is.Empty);
        }
    }

    private Ed25519Identity NewPeer()
    {
        var identity = Ed25519Identity.Generate();
        _identities.Add(identity);
        return identity;
    }
}
