namespace KontinuumP2P.Mailbox.Health;

/// <summary>
/// The mailbox store's device registry as the health protocol needs it: whether a device is registered at a mailbox
/// of this node, proven by the mailbox's capability. (The mailbox store implements it once merged; tests use a table.)
/// </summary>
public interface IRegisteredDevices
{
    /// <summary>Whether <paramref name="deviceId"/> is registered at <paramref name="mailboxId"/> and <paramref name="capability"/> opens it.</summary>
    ValueTask<bool> IsRegisteredAsync(ReadOnlyMemory<byte> mailboxId, ReadOnlyMemory<byte> capability, ReadOnlyMemory<byte> deviceId,
        CancellationToken cancellationToken);
}

/// <summary>Where a mailbox sends its alerts (HQ's peer over the health protocol in production).</summary>
public interface IHealthAlertSink
{
    /// <summary>Delivers one alert; may throw when HQ is unreachable (the alert is re-sent on the next refresh).</summary>
    Task SendAsync(HealthAlert alert, CancellationToken cancellationToken);
}

/// <summary>What receives verified alerts on HQ's side.</summary>
public interface IHealthAlertReceiver
{
    /// <summary>Handles an alert whose signature verified; returns whether it was accepted (certificate checks are the receiver's).</summary>
    bool Receive(HealthAlert alert);
}
