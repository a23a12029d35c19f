using System.Threading.Channels;

namespace KontinuumP2P.Net.Discovery;

/// <summary>
/// A wake-up flag for a background loop that otherwise sleeps until a deadline. Signals set while nobody waits are
/// kept (at most one). A wait leaves nothing registered behind when it returns, and "no deadline" is <c>null</c> rather
/// than a sentinel TimeSpan: mDNS once clamped <see cref="Timeout.InfiniteTimeSpan"/> (-1 ms) to zero, so its loop
/// never slept and registered a waiter per spin, growing by ~100 MiB/s.
/// </summary>
internal sealed class WakeSignal
{
    private readonly Channel<bool> _flag = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    /// <summary>Wakes the current or next wait.</summary>
    public void Set() => _flag.Writer.TryWrite(true);

    /// <summary>
    /// Waits until <see cref="Set"/> is called or <paramref name="timeout"/> passes on <paramref name="time"/>'s clock.
    /// Returns true when woken by a signal, false on timeout. A non-positive timeout only consumes a pending signal.
    /// </summary>
    /// <param name="timeout">How long to sleep at most; null to sleep until signalled or cancelled.</param>
    /// <param name="time">The clock of the timeout.</param>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired.</exception>
    public async Task<bool> WaitAsync(TimeSpan? timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_flag.Reader.TryRead(out _)) return true;
        if (timeout is { } t && t <= TimeSpan.Zero) return false;
        // The waiter is registered on a token owned by this call and cancelled before returning, so the channel drops it.
        using var timer = timeout is { } limit ? new CancellationTokenSource(limit, time) : null;
        using var scope = timer is null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        Task waiting = _flag.Reader.WaitToReadAsync(scope.Token).AsTask();
        await waiting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        cancellationToken.ThrowIfCancellationRequested();
        return _flag.Reader.TryRead(out _);
    }
}
