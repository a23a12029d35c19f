using KontinuumP2P.Mailbox.Protos;
using KontinuumP2P.Mailbox.Storage;
using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Server;

internal sealed partial class MailboxServerSession
{
    private volatile Revocation? _revoked;

    /// <summary>Set once this session's device was removed or its mailbox closed: every later request gets this refusal.</summary>
    private Revocation? Revoked => _revoked;

    private sealed record Revocation(MailboxErrorCode Code, string Message);

    public void Revoke(MailboxErrorCode code, string message) => _revoked ??= new Revocation(code, message);

    private async Task<Response> RemoveDeviceAsync(ulong id, MailboxHandle mailbox, RemoveDevice remove)
    {
        try
        {
            var result = await Store.RemoveDeviceAsync(mailbox, remove.DeviceId.Memory, CancellationToken.None).ConfigureAwait(false);
            _server.Revoke(mailbox.Row, Convert.ToHexString(remove.DeviceId.Span), this, MailboxErrorCode.DeviceRemoved, "this device was removed from the mailbox");
            return new Response { RequestId = id, RemoveDevice = new RemoveDeviceResult { Removed = result.Removed, Devices = (uint)result.Devices } };
        }
        catch (Exception e)
        {
            return Failure(id, e);
        }
    }

    private async Task<Response> CloseAsync(ulong id, MailboxHandle mailbox)
    {
        try
        {
            var blobs = await Store.CloseMailboxAsync(mailbox, CancellationToken.None).ConfigureAwait(false);
            const string closed = "the mailbox was closed; its group rotated to new mailboxes";
            _server.Revoke(mailbox.Row, null, this, MailboxErrorCode.MailboxClosed, closed);
            Revoke(MailboxErrorCode.MailboxClosed, closed);
            return new Response { RequestId = id, Close = new CloseResult { DeletedBlobs = blobs } };
        }
        catch (Exception e)
        {
            return Failure(id, e);
        }
    }
}
