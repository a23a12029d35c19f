using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
        services.AddSingleton<IPostConfigureOptions<KontinuumNodeOptions>, KontinuumNodeOptionsDefaults>();
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

    private sealed class KontinuumNodeOptionsDefaults(IServiceProvider provider) : IPostConfigureOptions<KontinuumNodeOptions>
    {
        public void PostConfigure(string? name, KontinuumNodeOptions options)
        {
            if (options.LoggerFactory is Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory
                && provider.GetService<ILoggerFactory>() is { } loggers) options.LoggerFactory = loggers;
            options.MeterFactory ??= provider.GetService<IMeterFactory>();
            if (options.TimeProvider == TimeProvider.System && provider.GetService<TimeProvider>() is { } time) options.TimeProvider = time;
        }
    }
}

/// <summary>The hosted service that owns the node of <see cref="KontinuumServiceCollectionExtensions.AddKontinuum"/>.</summary>
public sealed class KontinuumNodeService : IHostedService, IAsyncDisposable
{
    private readonly IOptions<KontinuumNodeOptions> _options;
    private KontinuumNode? _node;

    /// <summary>Created by the container.</summary>
    public KontinuumNodeService(IOptions<KontinuumNodeOptions> options) => _options = options;

    /// <summary>The running node.</summary>
    /// <exception cref="InvalidOperationException">The host has not started yet, or has stopped.</exception>
    public KontinuumNode Node => _node ?? throw new InvalidOperationException("the Kontinuum node starts with the host");

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken) =>
        _node = await KontinuumNode.StartAsync(_options.Value, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        var node = Interlocked.Exchange(ref _node, null);
        if (node is not null) await node.DisposeAsync().ConfigureAwait(false);
    }
}
