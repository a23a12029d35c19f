namespace KontinuumP2P.Simulations.Time;

/// <summary>
/// The armed timers of a <see cref="VirtualTimeProvider"/>, a binary min-heap by <see cref="VirtualTimer.QueueKey"/> in
/// which each timer knows its position. Re-arming moves the timer's one entry and disarming removes it at once, where a
/// queue with lazy deletion kept every earlier arming until its due time: a request's timeout, cancelled when the answer
/// came 0.2 s later, stayed 10 s in the queue, so the queue held several dead entries per live one, and the disposed
/// timers lived long enough to reach the collector's oldest generation. Not thread-safe: the provider's lock guards it.
/// </summary>
internal sealed class TimerHeap
{
    private VirtualTimer[] _items = new VirtualTimer[64];

    public int Count { get; private set; }

    /// <summary>The timer due first, or null when none is armed.</summary>
    public VirtualTimer? Peek() => Count > 0 ? _items[0] : null;

    /// <summary>Adds <paramref name="timer"/> (not in the heap), or moves it after its key changed (in the heap).</summary>
    public void Set(VirtualTimer timer)
    {
        if (timer.HeapIndex >= 0)
        {
            var index = timer.HeapIndex;
            if (index > 0 && timer.QueueKey < _items[(index - 1) / 2].QueueKey) MoveUp(timer, index);
            else MoveDown(timer, index);
            return;
        }
        if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        MoveUp(timer, Count++);
    }

    /// <summary>Removes <paramref name="timer"/> if it is in the heap.</summary>
    public void Remove(VirtualTimer timer)
    {
        var index = timer.HeapIndex;
        if (index < 0) return;
        timer.HeapIndex = -1;
        var last = _items[--Count];
        _items[Count] = null!;
        if (index == Count) return;
        if (index > 0 && last.QueueKey < _items[(index - 1) / 2].QueueKey) MoveUp(last, index);
        else MoveDown(last, index);
    }

    private void MoveUp(VirtualTimer timer, int index)
    {
        while (index > 0)
        {
            var parent = (index - 1) / 2;
            var above = _items[parent];
            if (!(timer.QueueKey < above.QueueKey)) break;
            Place(above, index);
            index = parent;
        }
        Place(timer, index);
    }

    private void MoveDown(VirtualTimer timer, int index)
    {
        while (true)
        {
            var child = 2 * index + 1;
            if (child >= Count) break;
            if (child + 1 < Count && _items[child + 1].QueueKey < _items[child].QueueKey) child++;
            var below = _items[child];
            if (!(below.QueueKey < timer.QueueKey)) break;
            Place(below, index);
            index = child;
        }
        Place(timer, index);
    }

    private void Place(VirtualTimer timer, int index)
    {
        _items[index] = timer;
        timer.HeapIndex = index;
    }
}
