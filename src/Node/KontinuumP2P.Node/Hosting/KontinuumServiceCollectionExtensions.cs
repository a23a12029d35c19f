using System.Diagnostics.Metrics;
using KontinuumP2P.Node.Composition;
using KontinuumP2P.Node.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KontinuumP2P.Node.Hosting;

/// <summary>Registers a Kontinuum node with a .NET generic host (or any service collection).</summary>
public static class KontinuumServiceCollectionExtensions
{
    /// <summary>
    /// Adds a <see cref="KontinuumNode"/> singleton (inject it where needed; it runs once the host has started) and a
    /// <see cref="KontinuumNodeService"/> that starts it with the host and stops it with the host. Options are validated
    /// at start (<see cref="KontinuumNodeOptions.Validate"/>, the message names <c>section.key</c>); the clock, logging
    /// and metrics are the container's.
    /// </summary>
    public static IServiceCollection AddKontinuum(this IServiceCollection services, Action<KontinuumNodeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<KontinuumNodeOptions>().Configure(configure);
        return AddCore(services);
    }

    /// <summary>
    /// As <see cref="AddKontinuum(IServiceCollection, Action{KontinuumNodeOptions})"/>, with the options read from
    /// <paramref name="configuration"/>: a section with node.toml's keys (<c>identity:key_file</c>, <c>network:listen</c> …),
    /// e.g. <c>configuration.GetSection("Kontinuum")</c> over <see cref="TomlConfigurationExtensions.AddNodeToml"/> and
    /// environment variables. Relative paths (key, certificate, genesis, data) start at <paramref name="baseDirectory"/>
    /// (the current directory when null). <paramref name="configure"/> may adjust the result.
    /// </summary>
    public static IServiceCollection AddKontinuum(this IServiceCollection services, IConfiguration configuration, string? baseDirectory = null,
        Action<KontinuumNodeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var directory = Path.GetFullPath(baseDirectory ?? Directory.GetCurrentDirectory());
        services.AddOptions<KontinuumNodeOptions>().Configure(options =>
        {
            ResolvedNodeConfig resolved;
            try
            {
                // Any file name inside the folder: the resolver takes relative paths from the file's folder.
                resolved = NodeConfigResolver.Resolve(NodeConfigBinder.Bind(configuration), Path.Combine(directory, "node.toml"));
            }
            catch (NodeConfigException e)
            {
                options.ConfigurationError = e;
                return;
            }
            options.CopyFrom(resolved.Options);
            configure?.Invoke(options);
        });
        return AddCore(services);
    }

    /// <summary>Adds a service to the node of <see cref="AddKontinuum(IServiceCollection, Action{KontinuumNodeOptions})"/> (see <see cref="KontinuumNodeBuilder.AddService"/>).</summary>
    public static IServiceCollection AddKontinuumService(this IServiceCollection services, Func<KontinuumNode, INodeService?> factory)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(factory);
        services.AddSingleton(new NodeServiceRegistration(factory));
        return services;
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.AddOptions<KontinuumNodeOptions>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<KontinuumNodeOptions>, KontinuumNodeOptionsValidator>();
        services.AddSingleton(CreateNode);
        services.AddSingleton<KontinuumNodeService>();
        services.AddHostedService(provider => provider.GetRequiredService<KontinuumNodeService>());
        return services;
    }

    /// <summary>The node of the container: its clock, logging and metrics are the container's.</summary>
    private static KontinuumNode CreateNode(IServiceProvider provider)
    {
        var builder = new KontinuumNodeBuilder(provider.GetRequiredService<IOptions<KontinuumNodeOptions>>().Value)
            .UseTimeProvider(provider.GetService<TimeProvider>() ?? TimeProvider.System)
            .UseLoggerFactory(provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance)
            .UseMeterFactory(provider.GetService<IMeterFactory>());
        foreach (var registration in provider.GetServices<NodeServiceRegistration>()) builder.AddService(registration.Factory);
        return builder.Build();
    }

    private sealed record NodeServiceRegistration(Func<KontinuumNode, INodeService?> Factory);

    /// <summary>The one validation path, reported the options way (<see cref="OptionsValidationException"/> at start).</summary>
    private sealed class KontinuumNodeOptionsValidator : IValidateOptions<KontinuumNodeOptions>
    {
        public ValidateOptionsResult Validate(string? name, KontinuumNodeOptions options)
        {
            if (options.ConfigurationError is { } error) return ValidateOptionsResult.Fail($"Kontinuum: {error.Message}");
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (NodeConfigException e)
            {
                return ValidateOptionsResult.Fail($"Kontinuum: {e.Message}");
            }
        }
    }
}

/// <summary>
/// The hosted service that starts the container's <see cref="KontinuumNode"/> with the host and stops it with the host.
/// The node itself is a singleton: inject <see cref="KontinuumNode"/> wherever it is needed (use it once the host has started).
/// </summary>
public sealed class KontinuumNodeService : IHostedService
{
    private readonly KontinuumNode _node;

    /// <summary>Created by the container.</summary>
    public KontinuumNodeService(KontinuumNode node) => _node = node;

    /// <summary>The node.</summary>
    public KontinuumNode Node => _node;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => _node.StartAsync(cancellationToken);

    /// <summary>Stops the node; when <paramref name="cancellationToken"/> fires first, returns while the stop goes on (the container still awaits it at disposal).</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _node.DisposeAsync().AsTask().WaitAsync(cancellationToken);
}
