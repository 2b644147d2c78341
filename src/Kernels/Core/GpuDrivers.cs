using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet;

/// <summary>What a GPU backend found on this machine: how many devices ILGPU can use and, when none, why.</summary>
/// <param name="Kind"><see cref="DeviceKind.Cuda"/> or <see cref="DeviceKind.OpenCL"/>.</param>
/// <param name="Devices">Devices ILGPU lists for the backend.</param>
/// <param name="Reason">Why there are none (library not found, the driver's error code, an unsupported driver or
/// architecture); null when there are devices.</param>
public sealed record BackendStatus(DeviceKind Kind, int Devices, string? Reason);

/// <summary>
/// Finding the CUDA and OpenCL driver libraries, and saying why a backend has no device. ILGPU asks the runtime for
/// <c>cuda</c> and <c>OpenCL</c>, which .NET resolves to <c>libcuda.so</c> and <c>libOpenCL.so</c>; many Linux installs
/// have only <c>libcuda.so.1</c> and <c>libOpenCL.so.1</c> (the unversioned names come with development packages), and
/// ILGPU swallows the load error and lists no device. So before the first context is made, GpuNet registers a resolver
/// for ILGPU's assembly that tries the unversioned name and then the <c>.1</c> one. On WSL ILGPU registers its own
/// resolver (for <c>/usr/lib/wsl/lib</c>); an assembly has only one, so GpuNet leaves WSL alone.
/// </summary>
internal static class GpuDrivers
{
    private static int s_registered;

    /// <summary>The libraries tried, in order, for each name ILGPU imports, on Linux.</summary>
    internal static readonly IReadOnlyDictionary<string, string[]> LinuxCandidates = new Dictionary<string, string[]>
    {
        ["cuda"] = ["libcuda.so", "libcuda.so.1"],
        ["OpenCL"] = ["libOpenCL.so", "libOpenCL.so.1"],
    };

    /// <summary>True once the resolver is registered for ILGPU's assembly (false off Linux, on WSL, or when another
    /// resolver was there first).</summary>
    internal static bool ResolverRegistered { get; private set; }

    /// <summary>Registers the resolver once; called before every context is made. Safe to call from any thread.</summary>
    internal static void RegisterResolver()
    {
        if (Interlocked.Exchange(ref s_registered, 1) != 0) return;
        if (!OperatingSystem.IsLinux() || IsWsl()) return;
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, Resolve);
            ResolverRegistered = true;
        }
        catch (InvalidOperationException)
        {
            // Someone (the host application) registered one first: theirs stays.
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        LinuxCandidates.TryGetValue(name, out var candidates) ? LoadFirst(candidates, assembly, searchPath) : IntPtr.Zero;

    /// <summary>The handle of the first of <paramref name="files"/> that loads, else zero (then the runtime's own probing
    /// follows, and fails the way it would have).</summary>
    internal static IntPtr LoadFirst(IEnumerable<string> files, Assembly assembly, DllImportSearchPath? searchPath)
    {
        foreach (string file in files)
            if (NativeLibrary.TryLoad(file, assembly, searchPath, out var handle))
                return handle;
        return IntPtr.Zero;
    }

    // The same test ILGPU uses before it registers its WSL resolver.
    private static bool IsWsl()
    {
        try
        {
            return File.ReadAllText("/proc/version").Contains("Microsoft", StringComparison.OrdinalIgnoreCase)
                && Directory.Exists("/usr/lib/wsl/lib");
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>The status of CUDA and of OpenCL, given the context ILGPU enumerated devices in.</summary>
    internal static IReadOnlyList<BackendStatus> Probe(Context context) =>
    [
        new(DeviceKind.Cuda, context.GetCudaDevices().Count, context.GetCudaDevices().Count > 0 ? null : WhyNoCuda()),
        new(DeviceKind.OpenCL, context.GetCLDevices().Count, context.GetCLDevices().Count > 0 ? null : WhyNoOpenCL()),
    ];

    private static string[] Names(string import) =>
        OperatingSystem.IsWindows() ? [import == "cuda" ? "nvcuda.dll" : "OpenCL.dll"]
        : OperatingSystem.IsMacOS() ? [import == "cuda" ? "libcuda.dylib" : "/System/Library/Frameworks/OpenCL.framework/OpenCL"]
        : LinuxCandidates[import];

    /// <summary>Loads the driver library the way ILGPU would get it; the handle stays loaded (ILGPU loads it too).</summary>
    private static bool TryLoad(string import, out IntPtr handle, out string tried)
    {
        var names = Names(import);
        tried = string.Join(" or ", names);
        foreach (string name in names)
            if (NativeLibrary.TryLoad(name, typeof(Context).Assembly, null, out handle))
                return true;
        handle = IntPtr.Zero;
        return false;
    }

    /// <summary>Why ILGPU lists no CUDA device: the library, <c>cuInit</c>, the device count, or ILGPU's own filter
    /// (architecture and driver version).</summary>
    internal static unsafe string WhyNoCuda()
    {
        try
        {
            if (!TryLoad("cuda", out var lib, out string tried))
                return $"CUDA driver library not found ({tried}): no NVIDIA driver installed";
            if (!NativeLibrary.TryGetExport(lib, "cuInit", out var init))
                return "the CUDA driver library has no cuInit: not an NVIDIA driver library";
            int rc = ((delegate* unmanaged<uint, int>)init)(0);
            if (rc != 0)
                return $"cuInit failed with {CudaErrorName(rc)}" + (rc == 100 ? " (the driver sees no GPU)" : rc == 35 ? " (the driver is older than the CUDA runtime needs)" : "");
            int version = 0, count = 0;
            if (NativeLibrary.TryGetExport(lib, "cuDriverGetVersion", out var getVersion))
                ((delegate* unmanaged<int*, int>)getVersion)(&version);
            if (NativeLibrary.TryGetExport(lib, "cuDeviceGetCount", out var getCount))
            {
                rc = ((delegate* unmanaged<int*, int>)getCount)(&count);
                if (rc != 0) return $"cuDeviceGetCount failed with {CudaErrorName(rc)}";
            }
            string driver = $"driver CUDA {version / 1000}.{version % 1000 / 10}";
            if (count == 0) return $"the CUDA driver ({driver}) reports no device";
            // The driver works and has devices, so ILGPU filtered them out: its compute capability or the driver's
            // PTX version is not one ILGPU 1.5 supports. Ask ILGPU without its filter to say which.
            var all = CudaDevice.GetDevices(_ => true);
            var why = all.OfType<CudaDevice>().Select(d =>
                d.Architecture is null ? $"{d.Name}: compute capability not supported by ILGPU"
                : d.InstructionSet is null ? $"{d.Name} ({d.Architecture}): {driver} offers no PTX version ILGPU supports for it (update the driver)"
                : $"{d.Name} ({d.Architecture}, {d.InstructionSet}): rejected by ILGPU").ToList();
            return why.Count > 0 ? string.Join("; ", why) : $"{count} device(s) reported by the driver ({driver}), but ILGPU could not query them";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"probing CUDA failed: {e.Message}";
        }
    }

    /// <summary>Why ILGPU lists no OpenCL device: the library, <c>clGetPlatformIDs</c>, or ILGPU's filter (OpenCL 2.0
    /// with generic address space).</summary>
    internal static unsafe string WhyNoOpenCL()
    {
        try
        {
            if (!TryLoad("OpenCL", out var lib, out string tried))
                return $"OpenCL library not found ({tried}); install an OpenCL ICD loader and a GPU driver's ICD";
            if (!NativeLibrary.TryGetExport(lib, "clGetPlatformIDs", out var getPlatforms))
                return "the OpenCL library has no clGetPlatformIDs";
            uint platforms = 0;
            int rc = ((delegate* unmanaged<uint, IntPtr*, uint*, int>)getPlatforms)(0, null, &platforms);
            if (rc == -1001 || (rc == 0 && platforms == 0))
                return "no OpenCL platform installed (the ICD loader found no driver in /etc/OpenCL/vendors)";
            if (rc != 0) return $"clGetPlatformIDs failed with error {rc}";
            var all = CLDevice.GetDevices(_ => true);
            if (all.Length == 0) return $"{platforms} OpenCL platform(s), but no device on them";
            return string.Join("; ", all.OfType<CLDevice>().Select(d =>
                $"{d.Name} (OpenCL C {d.CLStdVersion}): ILGPU needs OpenCL C 2.0 or later with generic address space"));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"probing OpenCL failed: {e.Message}";
        }
    }

    private static string CudaErrorName(int code) =>
        Enum.IsDefined(typeof(CudaError), code) ? $"{(CudaError)code} ({code})" : $"error {code}";
}
