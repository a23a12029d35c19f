using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using KontinuumP2P.Node.Composition;

namespace KontinuumP2P.Node.Hosting;

/// <summary>Registers a Kontinuum node with a .NET generic host.</summary>
public static class KontinuumServiceCollectionExtensions
{
    /// <summary>
    /// Adds a <see cref="KontinuumNodeService"/> that starts a <see cref="KontinuumNode"/> with the host and stops it
    /// with the host. Options are validated at start (the message names the bad setting); logging, metrics and the clock
    /// come from the container unless the options set them.
    /// </summary>
    public static IServiceCollection AddKontinuum(this IServiceCollection services, Action<KontinuumNodeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<KontinuumNodeOptions>().Configure(configure).ValidateOnStart();
        services.AddSingleton<IValidateOptions<KontinuumNodeOptions>, KontinuumNodeOptionsValidator>();
        services.AddSingleton(CreateNode);
        services.AddSingleton<KontinuumNodeService>();
        services.AddHostedService(provider => provider.GetRequiredService<KontinuumNodeService>());
        return services;
    }

    private sealed class KontinuumNodeOptionsValidator : IValidateOptions<KontinuumNodeOptions>
    {
        public ValidateOptionsResult Validate(string? name, KontinuumNodeOptions options)
        {
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (ValidationException e)
            {
                return ValidateOptionsResult.Fail($"Kontinuum: {e.Message}");
            }
        }
    }

    /// <summary>The node of the container: its clock, logging and metrics are the container's.</summary>
    private static KontinuumNode CreateNode(IServiceProvider provider) =>
        new KontinuumNodeBuilder(provider.GetRequiredService<IOptions<KontinuumNodeOptions>>().Value)
            .UseTimeProvider(provider.GetService<TimeProvider>() ?? TimeProvider.System)
            .UseLoggerFactory(provider.GetService<ILoggerFactory>() ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance)
            .UseMeterFactory(provider.GetService<IMeterFactory>())
            .Build();
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
