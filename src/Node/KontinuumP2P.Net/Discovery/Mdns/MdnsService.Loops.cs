using System.Net;
using System.Net.Sockets;
using KontinuumP2P.Net.Discovery.Dns;

namespace KontinuumP2P.Net.Discovery.Mdns;

/// <summary>The receive, respond and query loops of <see cref="MdnsService"/>.</summary>
public sealed partial class MdnsService
{
    private async Task ReceiveLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        // One spare byte tells an oversized datagram apart from one of exactly the maximum length.
        var buffer = GC.AllocateUninitializedArray<byte>(_options.MaxReceivePacketLength + 1);
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveMessageFromResult received;
            try
            {
                received = await socket.ReceiveMessageFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // ICMP errors and the like: note, pause briefly so a persistent error cannot spin, carry on.
                MdnsLog.Dropped(_logger, any, e.SocketErrorCode.ToString());
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
                continue;
            }
            Statistics.Received();
            var remote = (IPEndPoint)received.RemoteEndPoint;
            if (received.ReceivedBytes > _options.MaxReceivePacketLength || (received.SocketFlags & SocketFlags.Truncated) != 0)
            {
                Drop(remote, "oversized");
                continue;
            }
            if (!TakePacketBudget(remote.Address, out var overBudget))
            {
                Drop(remote, overBudget);
                continue;
            }
            var nic = _interfaces.FirstOrDefault(i => i.Index == received.PacketInformation.Interface);
            if (nic is null)
            {
                Drop(remote, "interface");
                continue;
            }
            try
            {
                HandlePacket(buffer.AsSpan(0, received.ReceivedBytes), remote, nic);
            }
#pragma warning disable CA1031 // a packet must never stop the loop: whatever it triggers is counted and logged
            catch (Exception e)
#pragma warning restore CA1031
            {
                Drop(remote, "error", e.Message);
            }
        }
    }

    internal void HandlePacket(ReadOnlySpan<byte> packet, IPEndPoint remote, MdnsInterface nic)
    {
        if (!DnsMessageReader.TryDecode(packet, out var message, out var error))
        {
            Drop(remote, "malformed", error);
            return;
        }
        if (!message!.IsResponse)
        {
            if (remote.Port != _options.Port)
            {
                AnswerLegacyUnicast(message, remote, nic);
                return;
            }
            if (MdnsPackets.ShouldAnswer(message, ServiceName, InstanceName, _options.RecordTtl, out var suppressed)) ScheduleResponse(nic);
            else if (suppressed) Statistics.Suppressed();
            return;
        }
        if (remote.Port != _options.Port)
        {
            Drop(remote, "source-port"); // RFC 6762 §11: responses come from port 5353
            return;
        }
        var announcements = MdnsPackets.ReadAnnouncements(message, ServiceName, InstanceName, _options.MaxAddressesPerPeer, out var rejected);
        if (rejected > 0) Drop(remote, "bad-dnsaddr");
        var now = _time.GetUtcNow();
        foreach (var announcement in announcements)
        {
            if (announcement.PeerId == _localPeer) continue;
            // A sender announces its own addresses: one naming someone else's IP is a forgery (goodbyes only remove
            // the sender's own records, so they need no such check). On loopback every sender is this machine.
            if (announcement.Ttl > TimeSpan.Zero && !nic.IsLoopback
                && !announcement.Addresses.Any(a => MdnsPeerTable.IpOf(a) is { } ip && Same(ip, remote.Address)))
            {
                Drop(remote, "foreign-address");
                continue;
            }
            lock (_gate)
            {
                var changed = _table.Update(announcement, remote.Address, now, out var full);
                if (full) Drop(remote, "table-full");
                if (changed is null) continue;
                Statistics.Discovered();
                _broadcaster.Publish(changed);
            }
            if (announcement.Ttl <= TimeSpan.Zero) MdnsLog.Goodbye(_logger, announcement.PeerId);
            else MdnsLog.Discovered(_logger, announcement.PeerId, announcement.Addresses.Count);
        }
    }

    private void ScheduleResponse(MdnsInterface nic)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_schedules.TryGetValue(nic.Index, out var schedule)) _schedules[nic.Index] = schedule = new ResponseSchedule();
            if (schedule.Due is not null)
            {
                Statistics.Suppressed(); // already answering this interface soon: one multicast answers every querier
                return;
            }
            // RFC 6762 §6: shared records wait 20-120 ms; never more than one multicast per interval per interface.
            var jittered = now + TimeSpan.FromMilliseconds(Random.Shared.Next(20, 121));
            var earliest = schedule.LastSent == DateTimeOffset.MinValue ? jittered : schedule.LastSent + _options.MinResponseInterval;
            schedule.Due = jittered > earliest ? jittered : earliest;
        }
        _wakeResponder.Set();
    }

    private async Task RespondLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = _time.GetUtcNow();
            var due = new List<int>();
            DateTimeOffset? next = null;
            lock (_gate)
            {
                foreach (var (index, schedule) in _schedules)
                {
                    if (schedule.Due is not { } at) continue;
                    // LastSent is the completion time of the previous send, so a late send cannot shorten the interval.
                    var allowed = schedule.LastSent == DateTimeOffset.MinValue ? at : schedule.LastSent + _options.MinResponseInterval;
                    if (allowed > at) at = allowed;
                    if (at <= now)
                    {
                        schedule.Due = null;
                        schedule.LastSent = now;
                        due.Add(index);
                    }
                    else if (next is null || at < next)
                    {
                        next = at;
                    }
                }
            }
            foreach (var nic in _interfaces.Where(i => due.Contains(i.Index)))
            {
                var response = MdnsPackets.BuildResponse(ServiceName, InstanceName, AdvertisedAddresses(nic), _options.RecordTtl,
                    _options.MaxSendPacketLength, out var included);
                if (included == 0) continue; // nothing dialable to offer (js stays silent too)
                if (await SendAsync(nic, response, _group, cancellationToken).ConfigureAwait(false)) Statistics.Sent(query: false);
                var sentAt = _time.GetUtcNow();
                lock (_gate) _schedules[nic.Index].LastSent = sentAt;
            }
            if (due.Count > 0) continue;
            // Nothing scheduled: sleep until a query schedules a response (no deadline at all, not a zero one).
            try
            {
                await _wakeResponder.WaitAsync(next - now, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task QueryLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            // RFC 6762 §5.2: first query after 20-120 ms, the second a second later, then the regular interval.
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 121)), _time, cancellationToken).ConfigureAwait(false);
            await QueryNowAsync(cancellationToken).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
            while (!cancellationToken.IsCancellationRequested)
            {
                await QueryNowAsync(cancellationToken).ConfigureAwait(false);
                await Task.Delay(_options.QueryInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private void AnswerLegacyUnicast(DnsMessage query, IPEndPoint remote, MdnsInterface nic)
    {
        // RFC 6762 §6.7: a one-shot resolver (e.g. dig -p 5353) gets a unicast answer echoing id and question.
        if (!MdnsPackets.ShouldAnswer(query, ServiceName, InstanceName, _options.RecordTtl, out _)) return;
        if (!TakeUnicastBudget())
        {
            Statistics.Suppressed();
            return;
        }
        var response = MdnsPackets.BuildResponse(ServiceName, InstanceName, AdvertisedAddresses(nic), LegacyUnicastTtl,
            _options.MaxSendPacketLength, out var included);
        if (included == 0) return;
        var decoded = DnsMessageReader.Decode(response);
        var reply = DnsMessageWriter.Encode(decoded with { Id = query.Id, Questions = query.Questions.Take(1).ToList() }, _options.MaxSendPacketLength + 300);
        if (_socket is null) return;
        try
        {
            _socket.SendTo(reply, remote);
            Statistics.Sent(query: false);
        }
        catch (SocketException e)
        {
            MdnsLog.SendFailed(_logger, nic.Name, e.Message);
        }
    }

    private async ValueTask<bool> SendAsync(MdnsInterface nic, byte[] packet, IPEndPoint destination, CancellationToken cancellationToken)
    {
        var socket = _socket;
        if (socket is null) return false;
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The outgoing interface is per socket, hence the lock around set-and-send.
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, BitConverter.ToInt32(nic.IPv4.GetAddressBytes()));
            await socket.SendToAsync(packet, SocketFlags.None, destination, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SocketException e)
        {
            MdnsLog.SendFailed(_logger, nic.Name, e.Message);
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private bool TakePacketBudget(IPAddress source, out string reason)
    {
        lock (_gate)
        {
            // Per source first, so a flooder spends its own allowance and not the shared one.
            reason = "rate-source";
            if (!_limiter.TryTake(source)) return false;
            reason = "rate";
            RollWindow();
            return ++_packetsInWindow <= MaxPacketsPerSecond;
        }
    }

    private static bool Same(IPAddress a, IPAddress b) =>
        (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Equals(b.IsIPv4MappedToIPv6 ? b.MapToIPv4() : b);

    private bool TakeUnicastBudget()
    {
        lock (_gate)
        {
            RollWindow();
            return ++_unicastInWindow <= MaxLegacyUnicastResponsesPerSecond;
        }
    }

    private void RollWindow()
    {
        var now = _time.GetTimestamp();
        if (_time.GetElapsedTime(_windowStart, now) < TimeSpan.FromSeconds(1)) return;
        _windowStart = now;
        _packetsInWindow = 0;
        _unicastInWindow = 0;
    }

    private void Drop(IPEndPoint remote, string reason, string? detail = null)
    {
        Statistics.Dropped(reason);
        MdnsLog.Dropped(_logger, remote, detail is null ? reason : $"{reason}: {detail}");
    }
}
