using Google.Protobuf;
using KontinuumP2P.Core.Identity;
using KontinuumP2P.Core.Network;
using KontinuumP2P.Mailbox.Health.Wire;

namespace KontinuumP2P.Mailbox.Health;

/// <summary>What a device reports about a mailbox it cannot reach (layer 1).</summary>
/// <param name="MailboxId">The survivor's mailbox id for the device's group (32 B).</param>
/// <param name="Capability">The survivor's capability (32 B): proves the device is registered there.</param>
/// <param name="DeviceId">The device's id at the survivor (16..32 B).</param>
/// <param name="Target">The unreachable slot and the node it named.</param>
/// <param name="FirstFailure">When the device first failed to reach it.</param>
/// <param name="Region">Approximate region of the device.</param>
public sealed record DeviceReport(ReadOnlyMemory<byte> MailboxId, ReadOnlyMemory<byte> Capability, ReadOnlyMemory<byte> DeviceId, HealthTarget Target,
    DateTimeOffset FirstFailure, string Region);

/// <summary>The device side of <c>/kontinuum/health/1.0.0</c>: reports an unreachable mailbox to a surviving one.</summary>
public static class HealthReporter
{
    /// <summary>Sends one report; true when the survivor counted it (false: not registered there, nothing stored).</summary>
    /// <exception cref="IOException">The survivor refused the request or the stream failed.</exception>
    public static async Task<bool> ReportAsync(IPeerHost host, PeerId survivor, DeviceReport report, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(report);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        await using var stream = await host.NewStreamAsync(survivor, [HealthService.ProtocolId], cts.Token).ConfigureAwait(false);
        var request = new HealthRequest
        {
            RequestId = 1,
            Report = new Wire.DeviceReport
            {
                MailboxId = ByteString.CopyFrom(report.MailboxId.Span),
                Capability = ByteString.CopyFrom(report.Capability.Span),
                DeviceId = ByteString.CopyFrom(report.DeviceId.Span),
                Slot = report.Target.Slot,
                NodeId = ByteString.CopyFrom(report.Target.NodeId.ToByteArray()),
                FirstFailureUnixMs = report.FirstFailure.ToUnixTimeMilliseconds(),
                Region = report.Region ?? "",
            },
        };
        await HealthFrames.WriteAsync(stream.Output, request, cts.Token).ConfigureAwait(false);
        var answer = await HealthFrames.ReadAsync(stream.Input, HealthResponse.Parser, cts.Token).ConfigureAwait(false);
        return answer?.Report?.Counted ?? throw new IOException($"report refused: {answer?.Error?.Message ?? "no answer"}");
    }
}
