using System.Runtime.InteropServices;

namespace GpuNet.Kernels;

/// <summary>
/// A 64-byte aligned native scratch buffer of the host engine that grows on demand and is kept for the next call; held in
/// a <c>[ThreadStatic]</c> field, so each calling thread has its own and no call pays for allocating (and page-faulting)
/// its packing space again.
/// </summary>
internal sealed unsafe class HostScratch
{
    private float* _data;
    private long _capacity;

    /// <summary>At least <paramref name="floats"/> floats; the contents are whatever the last user left.</summary>
    public float* Get(long floats)
    {
        if (floats > _capacity)
        {
            if (_data != null) NativeMemory.AlignedFree(_data);
            _data = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(floats, 1) * sizeof(float)), 64);
            _capacity = floats;
        }
        return _data;
    }

    ~HostScratch()
    {
        if (_data != null) NativeMemory.AlignedFree(_data);
    }
}
