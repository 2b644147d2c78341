using ILGPU;
using ILGPU.Runtime;

namespace GpuNet;

/// <summary>Argument checks shared by the public op entries. Each throws an <see cref="ArgumentException"/> that names the argument.</summary>
internal static class Check
{
    public static void Length(ArrayView<float> view, long expected, string name)
    {
        if (view.Length != expected)
            throw new ArgumentException($"{name} has {view.Length} elements; expected {expected}.", name);
    }

    public static void AtLeast(ArrayView<float> view, long expected, string name)
    {
        if (view.Length < expected)
            throw new ArgumentException($"{name} has {view.Length} elements; expected at least {expected}.", name);
    }

    public static void Length(ArrayView<int> view, long expected, string name)
    {
        if (view.Length != expected)
            throw new ArgumentException($"{name} has {view.Length} elements; expected {expected}.", name);
    }

    public static void SameLength(ArrayView<float> a, ArrayView<float> b, string nameA, string nameB)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"{nameA} has {a.Length} elements but {nameB} has {b.Length}; they must match.", nameB);
    }

    public static void Positive(int value, string name)
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }

    public static void NonNegative(int value, string name)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"{name} must not be negative.");
    }

    public static void Finite(float value, string name)
    {
        if (!float.IsFinite(value)) throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite.");
    }

    public static void Device(Device device, ArrayView<float> view, string name)
    {
        if (view.IsValid && view.GetAccelerator() != device.Accelerator)
            throw new ArgumentException($"{name} lives on another device than {device.Spec}.", name);
    }
}

/// <summary>Host access to views whose memory the host can address (the CPU accelerator's buffers).</summary>
internal static unsafe class HostView
{
    public static float* Ptr(ArrayView<float> view) => (float*)view.LoadEffectiveAddressAsPtr();
    public static int* Ptr(ArrayView<int> view) => (int*)view.LoadEffectiveAddressAsPtr();
    public static Span<float> Span(ArrayView<float> view) => new(Ptr(view), checked((int)view.Length));
    public static Span<int> Span(ArrayView<int> view) => new(Ptr(view), checked((int)view.Length));
}
