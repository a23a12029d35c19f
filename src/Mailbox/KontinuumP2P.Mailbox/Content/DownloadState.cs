using System.Collections;

namespace KontinuumP2P.Mailbox.Content;

/// <summary>
/// Which chunks of a download are pending, in flight or done, and which holder may no longer be asked for which chunk
/// (it lacked it or sent one that failed verification). Workers take runs of consecutive pending chunks their holder
/// may serve; a worker stops when nothing is left that its holder may serve and nothing is in flight that could come
/// back, so every chunk some holder can supply is fetched before a download reports the rest unavailable.
/// </summary>
internal sealed class DownloadState
{
    private const byte Waiting = 0;
    private const byte InFlight = 1;
    private const byte Finished = 2;
    private readonly Lock _lock = new();
    private readonly byte[] _status;
    private readonly BitArray[] _excluded;
    private readonly bool[] _dead;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _done;
    private long _bytes;

    public DownloadState(ContentManifest manifest, int holders)
    {
        Manifest = manifest;
        _status = new byte[manifest.ChunkCount];
        _excluded = [.. Enumerable.Range(0, holders).Select(_ => new BitArray(manifest.ChunkCount))];
        _dead = new bool[holders];
        FetchedBy = new int[holders];
        HolderErrors = new string?[holders];
        for (var i = 0; i < manifest.ChunkCount; i++) Pending.Add(i);
    }

    public ContentManifest Manifest { get; }

    public SortedSet<int> Pending { get; } = [];

    public int Fetched { get; private set; }

    public int Rejected { get; private set; }

    public int[] FetchedBy { get; }

    public string?[] HolderErrors { get; }

    public Exception? Failure { get; private set; }

    public bool Complete
    {
        get
        {
            lock (_lock) return _done == Manifest.ChunkCount;
        }
    }

    public void MarkResumed(int index)
    {
        lock (_lock)
        {
            Pending.Remove(index);
            _status[index] = Finished;
            _done++;
            _bytes += Manifest.PlaintextLengthOf(index);
        }
    }

    /// <summary>The next run of chunks for holder <paramref name="holder"/>, or null when it has nothing more to do.</summary>
    public async Task<List<int>?> TakeAsync(int holder, int max, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (Failure is not null || _dead[holder] || (Pending.Count == 0 && _inFlight == 0)) return null;
                if (TakeRun(holder, max) is { } run) return run;
                // Nothing this holder may serve, and nothing in flight that could come back to it: done.
                if (_inFlight == 0) return null;
                wait = _changed.Task;
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The next run for <paramref name="holder"/> if one is pending now (a worker filling its pipeline never waits).</summary>
    public List<int>? TryTake(int holder, int max)
    {
        lock (_lock)
        {
            return Failure is not null || _dead[holder] ? null : TakeRun(holder, max);
        }
    }

    // Called under the lock.
    private List<int>? TakeRun(int holder, int max)
    {
        List<int>? run = null;
        foreach (var i in Pending)
        {
            if (_excluded[holder][i]) continue;
            if (run is { Count: > 0 } && i != run[^1] + 1) break;
            (run ??= []).Add(i);
            if (run.Count == max) break;
        }
        if (run is null) return null;
        foreach (var i in run)
        {
            Pending.Remove(i);
            _status[i] = InFlight;
        }
        _inFlight += run.Count;
        return run;
    }

    public (int Chunks, long Bytes) Done(int index, int holder)
    {
        lock (_lock)
        {
            _status[index] = Finished;
            _inFlight--;
            _done++;
            _bytes += Manifest.PlaintextLengthOf(index);
            Fetched++;
            FetchedBy[holder]++;
            Signal();
            return (_done, _bytes);
        }
    }

    /// <summary>Holder <paramref name="holder"/> lacked chunk <paramref name="index"/> or sent one that failed verification.</summary>
    public void Reject(int index, int holder, bool counted)
    {
        lock (_lock)
        {
            if (counted) Rejected++;
            _excluded[holder][index] = true;
            _status[index] = Waiting;
            _inFlight--;
            Pending.Add(index);
            Signal();
        }
    }

    public void HolderFailed(int holder, IEnumerable<int> unanswered, string error)
    {
        lock (_lock)
        {
            _dead[holder] = true;
            HolderErrors[holder] = error;
            foreach (var i in unanswered)
            {
                if (_status[i] != InFlight) continue;
                _status[i] = Waiting;
                _inFlight--;
                Pending.Add(i);
            }
            Signal();
        }
    }

    public void Fail(Exception error)
    {
        lock (_lock)
        {
            Failure ??= error;
            Signal();
        }
    }

    // Called under the lock: wakes every waiting worker to look again.
    private void Signal()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}
