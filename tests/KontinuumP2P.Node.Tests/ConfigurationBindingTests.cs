using KontinuumP2P.Devnet;
using KontinuumP2P.Dht;
using KontinuumP2P.Node.Configuration;
using KontinuumP2P.Node.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KontinuumP2P.Node.Tests;

/// <summary>node.toml as a configuration source: AddKontinuum(IConfiguration) binds it, later sources override it.</summary>
[CancelAfter(60_000)]
public class ConfigurationBindingTests
{
    private string _directory = "";

    [SetUp]
    public void CreateFolder() => _directory = Directory.CreateTempSubdirectory("kp-config-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task Node_toml_binds_through_IConfiguration_and_later_sources_override_it(CancellationToken cancellationToken)
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 1, 40600, TimeSpan.FromDays(1), TimeProvider.System);
        var node0 = files.Nodes[0];
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddNodeToml(node0.ConfigPath, "Kontinuum");
        // What KONTINUUM__NETWORK__LISTEN and KONTINUUM__RECORDS__REPUBLISH_INTERVAL would say through the environment source.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["KONTINUUM:NETWORK:LISTEN"] = "/ip4/127.0.0.1/tcp/0",
            ["KONTINUUM:RECORDS:REPUBLISH_INTERVAL"] = "2h",
        });
        builder.Services.AddKontinuum(builder.Configuration.GetSection("Kontinuum"), Path.GetDirectoryName(node0.ConfigPath));
        using var app = builder.Build();
        await app.StartAsync(cancellationToken);
        var node = app.Services.GetRequiredService<KontinuumNode>();
        Assert.Multiple(() =>
        {
            Assert.That(node.PeerId.ToString(), Is.EqualTo(node0.PeerId), "the key file named in node.toml");
            Assert.That(node.HasCertificate, Is.True);
            Assert.That(node.Network.AdmissionEnforced, Is.True, "the genesis file named in node.toml");
            Assert.That(node.Options.NodeRecordRepublishInterval, Is.EqualTo(TimeSpan.FromHours(2)), "a later source overrides node.toml");
            Assert.That(node.ListenAddresses.Single().ToString(), Does.StartWith("/ip4/127.0.0.1/tcp/"));
            Assert.That(node.Dht.Options.Mode, Is.EqualTo(DhtMode.Server));
        });
        await app.StopAsync(cancellationToken);
    }

    [TestCase("KONTINUUM:DHT:MODE", "sideways", "dht.mode")]
    [TestCase("KONTINUUM:CRL:REFRESH_INTERVAL", "soon", "crl.refresh_interval")]
    [TestCase("KONTINUUM:NETWORK:LISEN", "/ip4/127.0.0.1/tcp/0", "network.LISEN")]
    public void A_bad_configuration_value_fails_at_start_naming_its_key(string key, string value, string named)
    {
        var files = DevnetLayout.Write(Path.Combine(_directory, "dn"), 1, 40700, TimeSpan.FromDays(1), TimeProvider.System);
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddNodeToml(files.Nodes[0].ConfigPath, "Kontinuum");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [key] = value });
        builder.Services.AddKontinuum(builder.Configuration.GetSection("Kontinuum"), Path.GetDirectoryName(files.Nodes[0].ConfigPath));
        using var app = builder.Build();
        var error = Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync(CancellationToken.None));
        Assert.That(error!.Message, Does.Contain(named));
    }
}
