using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Simulations.Network;

namespace KontinuumP2P.Simulations.Tests.Network;

/// <summary>The simulated address book keeps the node's peer-store bounds whatever remote peers name.</summary>
public sealed class AddressBookTests
{
    private static readonly IReadOnlyList<Multiaddr> Address = [Multiaddr.Parse("/ip4/10.0.0.1/tcp/4001")];
    private static readonly long Minute = TimeSpan.FromMinutes(1).Ticks;

    [Test]
    public void A_flood_of_named_peers_stays_within_the_second_hand_pool_and_keeps_protected_and_first_hand_peers()
    {
        var book = new AddressBook(firstHandCapacity: 50, secondHandCapacity: 20, TimeSpan.FromHours(1), TimeSpan.FromMinutes(10));
        var random = new Random(7);
        var table = Enumerable.Range(0, 30).Select(_ => Peer(random)).ToList();
        var contacts = Enumerable.Range(0, 40).Select(_ => Peer(random)).ToList();
        foreach (var peer in table)
        {
            book.Add(peer, Address, firstHand: false, now: 0);
            book.SetProtected(peer, true, now: 0);
        }
        foreach (var peer in contacts) book.Add(peer, Address, firstHand: true, now: 0);
        // The attack: answers naming 10,000 strangers, one at a time.
        var last = new List<PeerId>();
        for (var i = 0; i < 10_000; i++)
        {
            var stranger = Peer(random);
            book.Add(stranger, Address, firstHand: false, now: i);
            last.Add(stranger);
            Assert.That(book.Count, Is.LessThanOrEqualTo(30 + 40 + 20), $"after {i + 1} strangers");
        }
        Assert.That(table.All(p => book.Get(p, 10_000).Count == 1), "table entries are never evicted");
        Assert.That(contacts.All(p => book.Get(p, 10_000).Count == 1), "second-hand names do not push out first-hand peers");
        Assert.That(last.TakeLast(20).All(p => book.Get(p, 10_000).Count == 1), "the most recent strangers are kept");
        Assert.That(last.Take(100).All(p => book.Get(p, 10_000).Count == 0), "the oldest strangers are forgotten");
    }

    [Test]
    public void Second_hand_addresses_expire_and_are_dropped_first_hand_ones_last_longer()
    {
        var book = new AddressBook(10, 10, TimeSpan.FromMinutes(60), TimeSpan.FromMinutes(10));
        var random = new Random(8);
        var (named, contact, member) = (Peer(random), Peer(random), Peer(random));
        book.Add(named, Address, firstHand: false, now: 0);
        book.Add(contact, Address, firstHand: true, now: 0);
        book.Add(member, Address, firstHand: false, now: 0);
        book.SetProtected(member, true, now: 0);
        Assert.That(book.Get(named, 10 * Minute - 1), Has.Count.EqualTo(1));
        Assert.That(book.Get(named, 10 * Minute), Is.Empty, "a second-hand address lives 10 minutes");
        Assert.That(book.Get(contact, 59 * Minute), Has.Count.EqualTo(1), "a first-hand address lives an hour");
        Assert.That(book.Get(member, 120 * Minute), Has.Count.EqualTo(1), "a table entry keeps its address");
        // Any later addition drops what has expired; the protected entry stays, and leaves with the table.
        book.Add(Peer(random), Address, firstHand: false, now: 61 * Minute);
        book.Add(Peer(random), Address, firstHand: true, now: 61 * Minute);
        Assert.That(book.Count, Is.EqualTo(3), "the expired named peer and contact are gone");
        book.SetProtected(member, false, now: 61 * Minute);
        Assert.That(book.Get(member, 61 * Minute), Is.Empty);
        Assert.That(book.Count, Is.EqualTo(2));
    }

    [Test]
    public void A_contact_moves_a_named_peer_to_the_first_hand_pool()
    {
        var book = new AddressBook(10, 2, TimeSpan.FromMinutes(60), TimeSpan.FromMinutes(10));
        var random = new Random(9);
        var peer = Peer(random);
        book.Add(peer, Address, firstHand: false, now: 0);
        book.Add(peer, Address, firstHand: true, now: 0);
        for (var i = 0; i < 10; i++) book.Add(Peer(random), Address, firstHand: false, now: 0);
        Assert.That(book.Get(peer, 30 * Minute), Has.Count.EqualTo(1));
        Assert.That(book.Count, Is.EqualTo(3));
    }

    private static PeerId Peer(Random random)
    {
        var key = new byte[32];
        random.NextBytes(key);
        return PeerId.FromEncodedPublicKey(PublicKeyEncoding.Encode(KeyType.Ed25519, key));
    }
}
