using System.Net;
using KontinuumP2P.Core.Addressing;
using KontinuumP2P.Core.Identity;

namespace KontinuumP2P.Core.Tests;

public class MultiaddrTests
{
    [TestCase("/ip4/127.0.0.1/tcp/4001", "047f000001060fa1")]
    [TestCase("/ip6/::1/udp/4001/quic-v1", "290000000000000000000000000000000191020fa1cd03")]
    [TestCase("/dns4/example.com/tcp/443", "360b6578616d706c652e636f6d0601bb")]
    [TestCase("/dnsaddr/bootstrap.libp2p.io", "3813626f6f7473747261702e6c69627032702e696f")]
    [TestCase("/dns/localhost/tcp/80/ws", "35096c6f63616c686f7374060050dd03")]
    [TestCase("/ip4/192.0.2.42/tcp/443", "04c000022a0601bb")]
    public void TextAndBinaryFormsMatchTheVectors(string text, string hex)
    {
        var parsed = Multiaddr.Parse(text);
        Assert.That(Convert.ToHexStringLower(parsed.ToBytes()), Is.EqualTo(hex));
        var decoded = Multiaddr.FromBytes(Convert.FromHexString(hex));
        Assert.That(decoded.ToString(), Is.EqualTo(text));
        Assert.That(decoded, Is.EqualTo(parsed));
    }

    [Test]
    public void P2pValueIsTheMultihash()
    {
        var address = Multiaddr.Parse("/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
        var hex = Convert.ToHexStringLower(address.ToBytes());
        Assert.That(hex, Does.StartWith("a50322" + "12209dff3b17"));
        Assert.That(hex, Does.EndWith("f6f0b9"));
        Assert.That(Multiaddr.Parse("/ipfs/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"), Is.EqualTo(address));
        Assert.That(Multiaddr.Parse("/p2p/bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"), Is.EqualTo(address));
    }

    [Test]
    public void RelayCircuitAddressMatchesTheVector()
    {
        var id = SpecKeys.Ed25519PeerId;
        var address = Multiaddr.Parse($"/ip4/1.2.3.4/tcp/1/p2p/{id}/p2p-circuit/p2p/{id}");
        var idHex = "0024" + SpecKeys.Ed25519EncodedPublic;
        Assert.That(Convert.ToHexStringLower(address.ToBytes()),
            Is.EqualTo($"0401020304060001a50326{idHex}a202a50326{idHex}"));
        Assert.That(address.PeerId?.ToString(), Is.EqualTo(id));
    }

    [TestCase("ip4/1.2.3.4")]
    [TestCase("/ip4/1.2.3")]
    [TestCase("/ip4/::1")]
    [TestCase("/ip6/1.2.3.4")]
    [TestCase("/tcp/65536")]
    [TestCase("/tcp/-1")]
    [TestCase("/tcp")]
    [TestCase("/foo/1")]
    [TestCase("/p2p/notapeerid")]
    [TestCase("/dns4/a/b")]
    public void MalformedTextNamesTheProblem(string text)
    {
        var error = Assert.Throws<FormatException>(() => Multiaddr.Parse(text));
        Assert.That(error!.Message, Is.Not.Empty);
        Assert.That(Multiaddr.TryParse(text, out _), Is.False);
    }

    [Test]
    public void UnknownBinaryCodeIsAClearError()
    {
        var error = Assert.Throws<FormatException>(() => Multiaddr.FromBytes([0xff, 0x7f, 0x00]));
        Assert.That(error!.Message, Does.Contain("unknown multiaddr protocol code 0x3fff"));
    }

    [Test]
    public void TruncatedBinaryIsRejected()
    {
        Assert.That(() => Multiaddr.FromBytes([0x04, 0x7f, 0x00]), Throws.InstanceOf<FormatException>());
        Assert.That(() => Multiaddr.FromBytes([0x36, 0x0b, 0x65]), Throws.InstanceOf<FormatException>());
        Assert.That(() => Multiaddr.FromBytes(new byte[Multiaddr.MaxBinaryLength + 1]), Throws.InstanceOf<FormatException>());
    }

    [Test]
    public void PeerIdHelpers()
    {
        using var identity = Ed25519Identity.Generate();
        var bare = Multiaddr.Parse("/ip6/::1/tcp/4001");
        var full = bare.WithPeerId(identity.PeerId);
        Assert.Multiple(() =>
        {
            Assert.That(full.PeerId, Is.EqualTo(identity.PeerId));
            Assert.That(full.WithoutPeerId(), Is.EqualTo(bare));
            Assert.That(bare.PeerId, Is.Null);
            Assert.That(full.ToTcpEndPoint(), Is.EqualTo(new IPEndPoint(IPAddress.IPv6Loopback, 4001)));
            Assert.That(full.IsLoopback, Is.True);
            Assert.That(Multiaddr.FromTcpEndPoint(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 5)).ToString(),
                Is.EqualTo("/ip4/10.1.2.3/tcp/5"));
        });
    }

    [Test]
    public void Ip6IsPrintedCompressed()
    {
        var address = Multiaddr.Parse("/ip6/2001:0db8:0000:0000:0000:0000:0000:0001/tcp/1");
        Assert.That(address.ToString(), Is.EqualTo("/ip6/2001:db8::1/tcp/1"));
    }
}
