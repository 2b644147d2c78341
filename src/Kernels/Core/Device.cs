using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet;

/// <summary>The kind of backend a <see cref="Device"/> runs its ops on.</summary>
public enum DeviceKind
{
    /// <summary>An NVIDIA GPU through ILGPU's CUDA accelerator; ops run as ILGPU kernels.</summary>
    Cuda,
    /// <summary>An OpenCL GPU through ILGPU's OpenCL accelerator; ops run as ILGPU kernels.</summary>
    OpenCL,
    /// <summary>The host engine: SIMD C# on the CPU over buffers owned by ILGPU's CPU accelerator.</summary>
    Cpu,
    /// <summary>ILGPU's CPU accelerator running the GPU kernels in simulation (slow; for testing kernels): <c>ilgpu-cpu</c>
    /// (warp 4, 16 threads per group) or <c>ilgpu-cpu:nvidia</c> (shaped like an NVIDIA GPU: warp 32, 1,024 threads per group).</summary>
    IlgpuCpu,
}

/// <summary>Options for <see cref="Device.Open(string, DeviceOptions?)"/>.</summary>
public sealed record DeviceOptions
{
    /// <summary>
    /// Threads per group for one-dimensional kernels. Null picks
    /// <c>min(Accelerator.MaxNumThreadsPerGroup, 256)</c>. Results never depend on it; tests vary it to show that.
    /// </summary>
    public int? GroupSize { get; init; }

    /// <summary>
    /// Threads the host engine may use (the <c>cpu</c> device). Null uses every core. Results never depend on it: host ops
    /// split work into blocks whose arithmetic does not change with the number of threads; tests run 1 and 2 to show that.
    /// </summary>
    public int? Threads { get; init; }
}

/// <summary>One line of <see cref="Device.List"/>: what a backend on this machine offers.</summary>
/// <param name="Spec">The string that opens it with <see cref="Device.Open(string, DeviceOptions?)"/>.</param>
/// <param name="Kind">The backend.</param>
/// <param name="Name">The device's own name.</param>
/// <param name="MemoryBytes">Device memory in bytes (for CPU devices, what ILGPU reports).</param>
/// <param name="WarpSize">Threads per warp.</param>
/// <param name="MaxGroupSize">Maximum threads per group.</param>
public sealed record DeviceInfo(string Spec, DeviceKind Kind, string Name, long MemoryBytes, int WarpSize, int MaxGroupSize);

/// <summary>Thrown when a device specification names a backend this machine does not have, or is malformed.</summary>
public sealed class DeviceNotAvailableException(string message) : Exception(message);

/// <summary>
/// One compute device: an ILGPU <see cref="Accelerator"/>, the kernels loaded for it, and which engine runs the ops.
/// Open with <see cref="Open(string, DeviceOptions?)"/>; dispose when done (it owns the accelerator and context).
/// </summary>
public sealed class Device : IDisposable
{
    /// <summary>The environment variable that sets the default device specification.</summary>
    public const string EnvironmentVariable = "GPUNET_DEVICE";

    private readonly Context _context;
    private readonly ConcurrentDictionary<object, object> _kernels = new();
    private readonly Dictionary<object, MemoryBuffer1D<float, Stride1D.Dense>> _scratch = [];
    private bool _disposed;

    private Device(Context context, Accelerator accelerator, DeviceKind kind, string spec, DeviceOptions options, bool gpuShaped = false)
    {
        LaunchesLikeGpu = kind is DeviceKind.Cuda or DeviceKind.OpenCL || gpuShaped;
        _context = context;
        Accelerator = accelerator;
        Kind = kind;
        Spec = spec;
        int max = accelerator.MaxNumThreadsPerGroup;
        int group = options.GroupSize ?? Math.Min(max, 256);
        if (group < 1 || group > max)
            throw new ArgumentOutOfRangeException(nameof(options), $"GroupSize must be in 1..{max} on {accelerator.Name}; got {group}.");
        GroupSize = group;
        int threads = options.Threads ?? Environment.ProcessorCount;
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"Threads must be at least 1; got {threads}.");
        HostThreads = threads;
    }

    /// <summary>The ILGPU accelerator that owns this device's memory.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The backend.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The specification this device was opened with, normalised (for example <c>cuda:0</c> or <c>cpu</c>).</summary>
    public string Spec { get; }

    /// <summary>The accelerator's name.</summary>
    public string Name => Accelerator.Name;

    /// <summary>True when ops run on the host engine (the <c>cpu</c> device) rather than as ILGPU kernels.</summary>
    public bool UsesHostEngine => Kind == DeviceKind.Cpu;

    /// <summary>True for CUDA and OpenCL devices.</summary>
    public bool IsGpu => Kind is DeviceKind.Cuda or DeviceKind.OpenCL;

    /// <summary>
    /// True when kernels are launched with the shapes a GPU gets (panel depths, group shapes): on CUDA and OpenCL, and on
    /// <c>ilgpu-cpu:nvidia</c>, which exists to run those shapes without a GPU. False on <c>ilgpu-cpu</c>, where shapes
    /// are chosen to keep the simulation fast (few barriers).
    /// </summary>
    public bool LaunchesLikeGpu { get; }

    /// <summary>Threads per group used by one-dimensional kernels on this device.</summary>
    public int GroupSize { get; }

    /// <summary>Threads the host engine uses on this device (see <see cref="DeviceOptions.Threads"/>).</summary>
    public int HostThreads { get; }

    /// <summary>Maximum threads per group of the accelerator.</summary>
    public int MaxGroupSize => Accelerator.MaxNumThreadsPerGroup;

    /// <summary>The default specification: <c>$GPUNET_DEVICE</c> when set, else <c>auto</c>.</summary>
    public static string DefaultSpec
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return string.IsNullOrWhiteSpace(env) ? "auto" : env.Trim();
        }
    }

    /// <summary>
    /// Opens a device from a specification: <c>auto</c> (CUDA, else OpenCL, else <c>cpu</c>), <c>cuda[:i]</c>,
    /// <c>opencl[:i]</c>, <c>cpu</c> (host engine), <c>ilgpu-cpu</c> (ILGPU kernels simulated on the CPU) or
    /// <c>ilgpu-cpu:nvidia</c> (the same, shaped like an NVIDIA GPU: warp 32, up to 1,024 threads per group).
    /// Null opens <see cref="DefaultSpec"/>.
    /// </summary>
    /// <exception cref="DeviceNotAvailableException">The backend or index is not present, or the specification is malformed;
    /// the message names what is available.</exception>
    public static Device Open(string? spec = null, DeviceOptions? options = null)
    {
        spec = (spec ?? DefaultSpec).Trim().ToLowerInvariant();
        options ??= new DeviceOptions();
        (string backend, int? index) = ParseSpec(spec);

        GpuDrivers.RegisterResolver();
        var context = Context.Create(builder => ConfigureCompiler(builder.Default()));
        try
        {
            switch (backend)
            {
                case "auto":
                {
                    var cuda = context.GetCudaDevices();
                    if (cuda.Count > 0)
                        return new Device(context, cuda[0].CreateAccelerator(context), DeviceKind.Cuda, "cuda:0", options);
                    var cl = context.GetCLDevices();
                    if (cl.Count > 0)
                        return new Device(context, cl[0].CreateAccelerator(context), DeviceKind.OpenCL, "opencl:0", options);
                    return new Device(context, CreateCpuAccelerator(context), DeviceKind.Cpu, "cpu", options);
                }
                case "cuda":
                {
                    var devices = context.GetCudaDevices();
                    int i = index ?? 0;
                    if (devices.Count == 0) throw NotAvailable(context, spec, GpuDrivers.WhyNoCuda());
                    if (i >= devices.Count) throw NotAvailable(context, spec, $"this machine has {devices.Count} CUDA device(s)");
                    return new Device(context, devices[i].CreateAccelerator(context), DeviceKind.Cuda, $"cuda:{i}", options);
                }
                case "opencl":
                {
                    var devices = context.GetCLDevices();
                    int i = index ?? 0;
                    if (devices.Count == 0) throw NotAvailable(context, spec, GpuDrivers.WhyNoOpenCL());
                    if (i >= devices.Count) throw NotAvailable(context, spec, $"this machine has {devices.Count} OpenCL device(s)");
                    return new Device(context, devices[i].CreateAccelerator(context), DeviceKind.OpenCL, $"opencl:{i}", options);
                }
                case "cpu":
                    return new Device(context, CreateCpuAccelerator(context), DeviceKind.Cpu, "cpu", options);
                case "ilgpu-cpu":
                    return new Device(context, CreateCpuAccelerator(context), DeviceKind.IlgpuCpu, "ilgpu-cpu", options);
                case NvidiaShapedSpec:
                    return new Device(context, CPUDevice.Nvidia.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel),
                        DeviceKind.IlgpuCpu, NvidiaShapedSpec, options, gpuShaped: true);
                default:
                    throw NotAvailable(context, spec, null);
            }
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The compiler settings of every device's context (and of <see cref="KernelCatalog.CreateCompileContext"/>):
    /// ILGPU.Algorithms' math (XMath) and O2.</summary>
    internal static void ConfigureCompiler(Context.Builder builder) => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2);

    /// <summary>Lists the devices this machine offers, in the order <c>auto</c> tries them, CPU devices last.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        GpuDrivers.RegisterResolver();
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        return ListDevices(context);
    }

    private static List<DeviceInfo> ListDevices(Context context)
    {
        var list = new List<DeviceInfo>();
        var cuda = context.GetCudaDevices();
        for (int i = 0; i < cuda.Count; i++)
            list.Add(new DeviceInfo($"cuda:{i}", DeviceKind.Cuda, cuda[i].Name, cuda[i].MemorySize, cuda[i].WarpSize, cuda[i].MaxNumThreadsPerGroup));
        var cl = context.GetCLDevices();
        for (int i = 0; i < cl.Count; i++)
            list.Add(new DeviceInfo($"opencl:{i}", DeviceKind.OpenCL, cl[i].Name, cl[i].MemorySize, cl[i].WarpSize, cl[i].MaxNumThreadsPerGroup));
        var cpu = CPUDevice.Default;
        // ILGPU reports a nominal size for CPU memory; what the process can really use is the host's memory.
        long hostMemory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        string cpuName = $"host engine ({Environment.ProcessorCount} cores, {HostCpu.InstructionSet})";
        list.Add(new DeviceInfo("cpu", DeviceKind.Cpu, cpuName, hostMemory, cpu.WarpSize, cpu.MaxNumThreadsPerGroup));
        list.Add(new DeviceInfo("ilgpu-cpu", DeviceKind.IlgpuCpu, "ILGPU CPU accelerator (simulated GPU threads)", hostMemory, cpu.WarpSize, cpu.MaxNumThreadsPerGroup));
        var nvidia = CPUDevice.Nvidia;
        list.Add(new DeviceInfo(NvidiaShapedSpec, DeviceKind.IlgpuCpu, "ILGPU CPU accelerator shaped like an NVIDIA GPU (GPU launch shapes; slow)",
            hostMemory, nvidia.WarpSize, nvidia.MaxNumThreadsPerGroup));
        return list;
    }

    /// <summary>The specification of ILGPU's CPU accelerator shaped like an NVIDIA GPU (<c>CPUDevice.Nvidia</c>).</summary>
    public const string NvidiaShapedSpec = "ilgpu-cpu:nvidia";

    private static Accelerator CreateCpuAccelerator(Context context) =>
        CPUDevice.Default.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);

    private static (string Backend, int? Index) ParseSpec(string spec)
    {
        int colon = spec.IndexOf(':');
        if (colon < 0) return (spec, null);
        string backend = spec[..colon];
        string rest = spec[(colon + 1)..];
        if ((backend == "cuda" || backend == "opencl") && int.TryParse(rest, out int i) && i >= 0)
            return (backend, i);
        if (spec == NvidiaShapedSpec) return (spec, null);
        return ("?" + spec, null);
    }

    /// <summary>
    /// Whether CUDA and OpenCL have devices ILGPU can use and, for a backend without one, why: the driver library is
    /// missing, <c>cuInit</c> or <c>clGetPlatformIDs</c> failed (with its error code), or ILGPU rejects the driver or the
    /// architecture. <see cref="Open"/> puts the same reason in its exception.
    /// </summary>
    public static IReadOnlyList<BackendStatus> Backends() => Survey().Backends;

    /// <summary>
    /// <see cref="List"/> and <see cref="Backends"/> from one ILGPU context (what <c>gpunet devices</c> prints). One
    /// context matters on WSL, where ILGPU registers a DllImport resolver each time a context looks for CUDA devices
    /// and a second registration throws.
    /// </summary>
    public static (IReadOnlyList<DeviceInfo> Devices, IReadOnlyList<BackendStatus> Backends) Survey()
    {
        GpuDrivers.RegisterResolver();
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        return (ListDevices(context), GpuDrivers.Probe(context));
    }

    // One line: the reason (when known), then what the machine has.
    private static DeviceNotAvailableException NotAvailable(Context context, string spec, string? reason)
    {
        string available = string.Join(", ", ListDevices(context).Select(d => d.Spec));
        string why = reason is null ? "" : $": {reason}";
        return new DeviceNotAvailableException(
            $"device '{spec}' is not available{why}; this machine has: {available} (and 'auto').");
    }

    private long _synchronizations;

    /// <summary>
    /// How many times the host has waited for this device: every <see cref="Synchronize"/>, which is also how
    /// <c>Tensor</c> reads (<c>ToArray</c>) and uploads (<c>CopyFrom</c>) wait, and how the losses and the trainer
    /// read results back. Not counted: the wait after each ILGPU launch on the CPU devices (<c>ilgpu-cpu</c>, and the
    /// <c>cpu</c> device's rare ILGPU launches), which exists only because the host engine then reads the memory directly
    /// and which a GPU never makes. A training step should add nothing here (tests assert it).
    /// </summary>
    public long Synchronizations => Interlocked.Read(ref _synchronizations);

    /// <summary>Waits until every kernel launched on this device has finished (a device-wide synchronisation, counted in
    /// <see cref="Synchronizations"/>).</summary>
    public void Synchronize()
    {
        Interlocked.Increment(ref _synchronizations);
        Accelerator.Synchronize();
    }

    /// <summary>
    /// Sets <paramref name="view"/> to zero in stream order, without waiting: on a GPU a memset queued behind the kernels
    /// already launched (later launches see the zeros); on the host engine (<c>cpu</c>) a direct clear of the host
    /// memory, since its ops read memory directly and every ILGPU launch on it has already completed; on
    /// <c>ilgpu-cpu</c> a memset followed by the uncounted wait every launch there makes.
    /// </summary>
    public unsafe void Clear(ArrayView<float> view)
    {
        if (view.Length == 0) return;
        if (UsesHostEngine)
        {
            NativeMemory.Clear(HostView.Ptr(view), (nuint)view.Length * sizeof(float));
            return;
        }
        Interlocked.Increment(ref _clears);
        view.AsDense().MemSetToZero(Accelerator.DefaultStream);
        AfterLaunch();
    }

    private MemoryBuffer1D<float, Stride1D.Dense>? _workspace;
    private readonly List<MemoryBuffer1D<float, Stride1D.Dense>> _retiredWorkspaces = [];
    private readonly object _workspaceLock = new();

    /// <summary>
    /// A device workspace of at least <paramref name="length"/> floats (split-K's partial sums), reused by every op that
    /// asks: ops on one device run in stream order, so the next user starts after the last one finished. A larger request
    /// allocates a larger buffer; the smaller one is kept until <see cref="Dispose"/>, since kernels already queued may
    /// still use it.
    /// </summary>
    internal ArrayView<float> Workspace(long length)
    {
        lock (_workspaceLock)
        {
            if (_workspace is null || _workspace.Length < length)
            {
                if (_workspace is not null) _retiredWorkspaces.Add(_workspace);
                _workspace = Accelerator.Allocate1D<float>(Math.Max(length, 1 << 16));
            }
            return _workspace.View.SubView(0, length);
        }
    }

    /// <summary>Allocates an uninitialised buffer of <paramref name="length"/> floats on this device.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Allocate(long length) => Accelerator.Allocate1D<float>(length);

    /// <summary>
    /// A device buffer that an op keeps between launches (the partial sums of <see cref="Reduce"/>), named by
    /// <paramref name="key"/>: allocated on first use with <paramref name="length"/> floats, then the same buffer every
    /// time, and freed with the device. Its contents are whatever the last launch that used it left there.
    /// </summary>
    /// <exception cref="InvalidOperationException">The buffer under <paramref name="key"/> is shorter than <paramref name="length"/>.</exception>
    internal ArrayView<float> Scratch(object key, long length)
    {
        lock (_scratch)
        {
            if (!_scratch.TryGetValue(key, out var buffer))
                _scratch.Add(key, buffer = Accelerator.Allocate1D<float>(length));
            if (buffer.Length < length)
                throw new InvalidOperationException($"the scratch buffer was allocated with {buffer.Length} floats; {length} asked for.");
            return buffer.View.SubView(0, length);
        }
    }

    // Kernel loaders, one per parameter count. The kernel method itself is the cache key, so two launchers cannot share a
    // key by accident, and loading checks it is registered ([GpuKernel]): an unregistered kernel cannot run, so the
    // compile check over KernelCatalog.All sees every kernel that can.
    private TLauncher Load<TLauncher>(Delegate kernel, Func<Accelerator, TLauncher> load) where TLauncher : class =>
        (TLauncher)_kernels.GetOrAdd(kernel.Method, _ =>
        {
            KernelCatalog.EnsureRegistered(kernel.Method);
            return load(Accelerator);
        });

    private long _launches, _clears;

    /// <summary>
    /// How many ILGPU kernels this device has launched (every launch through its kernel loaders, so every op's kernels;
    /// split-K GEMMs count their two launches). The host engine (<c>cpu</c>) launches none for its ops. <c>gpunet
    /// check</c> reports the launches of one training step from it.
    /// </summary>
    public long KernelLaunches => Interlocked.Read(ref _launches);

    /// <summary>How many stream clears (<see cref="Clear"/> on an ILGPU device: a memset queued on the stream, not a kernel)
    /// this device has queued.</summary>
    public long StreamClears => Interlocked.Read(ref _clears);

    private readonly ConcurrentDictionary<string, long> _launchesByKernel = new(StringComparer.Ordinal);

    /// <summary>The launches of <see cref="KernelLaunches"/> by kernel (<c>Gemm.TiledKernel</c>), for reports.</summary>
    public IReadOnlyDictionary<string, long> LaunchesByKernel => new Dictionary<string, long>(_launchesByKernel, StringComparer.Ordinal);

    private void CountLaunch(string kernel)
    {
        Interlocked.Increment(ref _launches);
        _launchesByKernel.AddOrUpdate(kernel, 1, (_, n) => n + 1);
    }

    private static string KernelName(Delegate kernel) => $"{kernel.Method.DeclaringType?.Name}.{kernel.Method.Name}";

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1> Kernel<T1>(Action<T1> kernel) where T1 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1>((config, x1) => { CountLaunch(name); launch(config, x1); });
        });

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1, T2> Kernel<T1, T2>(Action<T1, T2> kernel) where T1 : struct where T2 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1, T2>((config, x1, x2) => { CountLaunch(name); launch(config, x1, x2); });
        });

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1, T2, T3> Kernel<T1, T2, T3>(Action<T1, T2, T3> kernel) where T1 : struct where T2 : struct where T3 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1, T2, T3>((config, x1, x2, x3) => { CountLaunch(name); launch(config, x1, x2, x3); });
        });

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1, T2, T3, T4> Kernel<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel) where T1 : struct where T2 : struct where T3 : struct where T4 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4>((config, x1, x2, x3, x4) => { CountLaunch(name); launch(config, x1, x2, x3, x4); });
        });

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1, T2, T3, T4, T5> Kernel<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel) where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5>((config, x1, x2, x3, x4, x5) => { CountLaunch(name); launch(config, x1, x2, x3, x4, x5); });
        });

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6> Kernel<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel) where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6>((config, x1, x2, x3, x4, x5, x6) => { CountLaunch(name); launch(config, x1, x2, x3, x4, x5, x6); });
        });

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7> Kernel<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel) where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7>((config, x1, x2, x3, x4, x5, x6, x7) => { CountLaunch(name); launch(config, x1, x2, x3, x4, x5, x6, x7); });
        });

    /// <summary>The launcher of the explicitly grouped <paramref name="kernel"/> on the default stream, loaded once.</summary>
    internal Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8> Kernel<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel) where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct =>
        Load(kernel, a =>
        {
            var launch = a.LoadStreamKernel(kernel);
            string name = KernelName(kernel);
            return new Action<KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>((config, x1, x2, x3, x4, x5, x6, x7, x8) => { CountLaunch(name); launch(config, x1, x2, x3, x4, x5, x6, x7, x8); });
        });

    /// <summary>A launch configuration that covers <paramref name="n"/> work items with grid-stride loops.</summary>
    internal KernelConfig Config1D(long n)
    {
        long groups = (n + GroupSize - 1) / GroupSize;
        // Enough groups to fill the device; kernels loop over the rest, so the grid never needs to cover n exactly.
        long cap = Math.Max(1, (long)Accelerator.NumMultiprocessors * Math.Max(1, Accelerator.MaxNumThreadsPerMultiprocessor / GroupSize) * 4);
        int g = (int)Math.Clamp(groups, 1, cap);
        return new KernelConfig(new Index1D(g), new Index1D(GroupSize));
    }

    /// <summary>Called after an ILGPU kernel launch: the host engine must not see a buffer a kernel is still writing.</summary>
    internal void AfterLaunch()
    {
        if (!IsGpu) Accelerator.Synchronize();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Spec} ({Name})";

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _kernels.Clear();
        _workspace?.Dispose();
        foreach (var buffer in _retiredWorkspaces) buffer.Dispose();
        lock (_scratch)
        {
            foreach (var buffer in _scratch.Values) buffer.Dispose();
            _scratch.Clear();
        }
        Accelerator.Dispose();
        _context.Dispose();
    }
}
