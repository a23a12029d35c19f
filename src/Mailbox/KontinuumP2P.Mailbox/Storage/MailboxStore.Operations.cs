using KontinuumP2P.Mailbox.Wire;

namespace KontinuumP2P.Mailbox.Storage;

public sealed partial class MailboxStore
{
    /// <summary>
    /// One queued write. <see cref="Apply"/> runs on the writer inside the batch's transaction: it validates before it
    /// writes, so a refusal (a <see cref="MailboxException"/>) leaves nothing behind. Results are released only after
    /// the commit.
    /// </summary>
    private abstract class WriteOp
    {
        public abstract void Apply(MailboxStore store);

        public abstract void Complete();

        public abstract void Fail(Exception error);
    }

    private abstract class WriteOp<T> : WriteOp
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _refusal;

        public Task<T> Task => _completion.Task;

        public override void Apply(MailboxStore store)
        {
            try
            {
                _result = Run(store);
                _refusal = null;
            }
            catch (MailboxException e)
            {
                _refusal = e;
            }
        }

        protected abstract T Run(MailboxStore store);

        public override void Complete()
        {
            if (_refusal is not null) _completion.TrySetException(_refusal);
            else _completion.TrySetResult(_result!);
        }

        public override void Fail(Exception error) => _completion.TrySetException(error);
    }

    private sealed class OpenOp(byte[] mailboxId, byte[] capabilityHash, byte[] deviceId, byte[]? archiveKey) : WriteOp<MailboxOpened>
    {
        protected override MailboxOpened Run(MailboxStore store) => store.ApplyOpen(mailboxId, capabilityHash, deviceId, archiveKey);
    }

    private sealed class PushOp(long row, byte[] blobId, byte[] data, TimeSpan ttl) : WriteOp<MailboxPushResult>
    {
        private byte[]? _data = data;

        // The bytes are let go once written: a group waiting for its flush holds answers, not blobs.
        protected override MailboxPushResult Run(MailboxStore store)
        {
            var bytes = _data ?? throw new InvalidOperationException("a push is applied once");
            _data = null;
            return store.ApplyPush(row, blobId, bytes, ttl);
        }
    }

    private sealed class AckOp(long row, byte[] deviceId, ulong upTo) : WriteOp<ulong>
    {
        protected override ulong Run(MailboxStore store) => store.ApplyAck(row, deviceId, upTo);
    }

    private sealed class RemoveDeviceOp(long row, byte[] requester, byte[] deviceId) : WriteOp<MailboxDeviceRemoval>
    {
        protected override MailboxDeviceRemoval Run(MailboxStore store) => store.ApplyRemoveDevice(row, requester, deviceId);
    }

    private sealed class CloseOp(long row, byte[] mailboxId, byte[] requester) : WriteOp<ulong>
    {
        protected override ulong Run(MailboxStore store) => store.ApplyClose(row, mailboxId, requester);
    }

    private sealed class CleanupOp(Func<MailboxStore, CleanupStep> step) : WriteOp<CleanupStep>
    {
        protected override CleanupStep Run(MailboxStore store) => step(store);
    }

    /// <summary>What one bounded cleanup step did.</summary>
    private readonly record struct CleanupStep(long Blobs, int Mailboxes, bool More);

    /// <summary>The writer's view of one mailbox (its counters row and devices), reloaded after a failed commit.</summary>
    private sealed class MailboxState
    {
        public required long Row { get; init; }
        public required ulong Epoch { get; init; }
        public required byte[] CapabilityHash { get; init; }
        public bool HasArchiveKey { get; set; }
        public ulong NextCursor { get; set; }
        public long Bytes { get; set; }
        public long Blobs { get; set; }
        public long LastAccess { get; set; }
        public ulong Trimmed { get; set; }
        public Dictionary<string, ulong> Devices { get; } = [];
        public HashSet<string> Removed { get; } = [];
        public bool Dirty { get; set; }
        public bool Grew { get; set; }

        public ulong MaxCursor => NextCursor - 1;

        public ulong MinAck => Devices.Count == 0 ? 0 : Devices.Values.Min();
    }
}
