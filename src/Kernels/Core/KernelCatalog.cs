using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet.Kernels;

/// <summary>
/// Registers a static method as an ILGPU kernel. <see cref="Device"/> refuses to load a kernel without it, so every kernel
/// that can run is in <see cref="KernelCatalog.All"/>. A generic kernel lists the operator structs it is instantiated
/// with; loading any other instantiation is refused too.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
internal sealed class GpuKernelAttribute(params Type[] instantiations) : Attribute
{
    /// <summary>The type arguments a generic kernel is loaded with (one per instantiation; empty for a plain kernel).</summary>
    public Type[] Instantiations { get; } = instantiations;

    /// <summary>True for a kernel that uses warp shuffles: ILGPU's OpenCL backend needs sub-groups for them, so the OpenCL
    /// compile check enables sub-groups for it, and ops run it on OpenCL devices only where they have them (today: never;
    /// they take the op's other version).</summary>
    public bool NeedsSubGroups { get; init; }
}

/// <summary>One registered kernel: an instantiated kernel method and its name (<c>Activation.ForwardKernel&lt;TanhOp&gt;</c>).</summary>
/// <param name="Name">The op class, the method and, for a generic kernel, its operator struct.</param>
/// <param name="Method">The kernel method, with its type arguments filled in.</param>
/// <param name="NeedsSubGroups">Whether the kernel uses warp shuffles (OpenCL sub-groups).</param>
public sealed record KernelEntry(string Name, MethodInfo Method, bool NeedsSubGroups = false)
{
    /// <summary>The name as a file name: <c>Activation.ForwardKernel-TanhOp</c>.</summary>
    public string FileName => Name.Replace('<', '-').Replace(">", "", StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// Every ILGPU kernel of GpuNet.Kernels, found by reflection from <see cref="GpuKernelAttribute"/> (the same mark
/// <see cref="Device"/> checks when it loads a kernel), and ILGPU's GPU backends to compile them without a GPU.
/// </summary>
public static class KernelCatalog
{
    private static readonly Lazy<IReadOnlyList<KernelEntry>> s_all = new(Find);

    /// <summary>The CUDA architectures the compile check targets: Turing (the oldest with the fast paths ILGPU emits,
    /// such as <c>tanh.approx</c>) and Hopper.</summary>
    public static IReadOnlyList<CudaArchitecture> PtxTargets { get; } = [CudaArchitecture.SM_75, CudaArchitecture.SM_90];

    /// <summary>Every registered kernel, generic ones once per listed instantiation, ordered by name.</summary>
    public static IReadOnlyList<KernelEntry> All => s_all.Value;

    private static List<KernelEntry> Find()
    {
        var list = new List<KernelEntry>();
        const BindingFlags flags = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var type in typeof(KernelCatalog).Assembly.GetTypes())
            foreach (var method in type.GetMethods(flags))
            {
                var mark = method.GetCustomAttribute<GpuKernelAttribute>();
                if (mark is null) continue;
                if (!method.IsGenericMethodDefinition)
                {
                    if (mark.Instantiations.Length > 0)
                        throw new InvalidOperationException($"{type.Name}.{method.Name} is not generic but lists instantiations.");
                    list.Add(new KernelEntry($"{type.Name}.{method.Name}", method, mark.NeedsSubGroups));
                    continue;
                }
                if (mark.Instantiations.Length == 0 || method.GetGenericArguments().Length != 1)
                    throw new InvalidOperationException(
                        $"{type.Name}.{method.Name} is generic: [GpuKernel] must list its instantiations (one type parameter supported).");
                foreach (var t in mark.Instantiations)
                    list.Add(new KernelEntry($"{type.Name}.{method.Name}<{t.Name}>", method.MakeGenericMethod(t), mark.NeedsSubGroups));
            }
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>Throws unless <paramref name="method"/> is a registered kernel (for a generic one, a listed instantiation).</summary>
    /// <exception cref="InvalidOperationException">It is not.</exception>
    internal static void EnsureRegistered(MethodInfo method)
    {
        var definition = method.IsGenericMethod ? method.GetGenericMethodDefinition() : method;
        var mark = definition.GetCustomAttribute<GpuKernelAttribute>();
        string name = $"{method.DeclaringType?.Name}.{method.Name}";
        if (mark is null)
            throw new InvalidOperationException(
                $"kernel {name} is not registered: mark it [GpuKernel] so the compile check and `gpunet kernels` see it.");
        if (method.IsGenericMethod && !method.GetGenericArguments().All(t => mark.Instantiations.Contains(t)))
            throw new InvalidOperationException(
                $"kernel {name}<{string.Join(", ", method.GetGenericArguments().Select(t => t.Name))}> is not a listed instantiation: add it to its [GpuKernel(...)].");
    }

    /// <summary>A context for <see cref="CompilePtx"/> and <see cref="CompileOpenCL"/>: the same compiler settings as a
    /// <see cref="Device"/>, no accelerator (so no GPU or driver is needed). Dispose it when done.</summary>
    public static Context CreateCompileContext() => Context.Create(Device.ConfigureCompiler);

    /// <summary>Compiles <paramref name="kernel"/> with ILGPU's PTX backend for <paramref name="architecture"/>, as the CUDA
    /// accelerator would (without NVVM), and returns the PTX text.</summary>
    public static string CompilePtx(Context context, KernelEntry kernel, CudaArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(kernel);
        var isa = LowestInstructionSet(architecture);
        var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, isa, nvvmAPI: null);
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method), default(KernelSpecialization));
        return compiled.PTXAssembly;
    }

    /// <summary>Compiles <paramref name="kernel"/> with ILGPU's OpenCL backend for an OpenCL 2.0 device without float64 or
    /// sub-groups (the least a GPU must offer; with sub-groups for a kernel marked <see cref="KernelEntry.NeedsSubGroups"/>)
    /// and returns the OpenCL C source.</summary>
    public static string CompileOpenCL(Context context, KernelEntry kernel)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(kernel);
        var capabilities = new CLCapabilityContext(float16: false, float64: false, genericAddressSpace: true, int64_Atomics: true, subGroups: kernel.NeedsSubGroups);
        // ILGPU 1.5.3 lowers warp shuffles in OpenCL C only to Intel's sub-group shuffles, so a shuffle kernel is compiled
        // as for an Intel device.
        var vendor = kernel.NeedsSubGroups ? CLDeviceVendor.Intel : CLDeviceVendor.Other;
        var backend = new CLBackend(context, capabilities, vendor, CLCVersion.CL20);
        var compiled = (CLCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method), default(KernelSpecialization));
        return compiled.Source;
    }

    /// <summary>The PTX file suffix of an architecture: <c>sm_75</c>.</summary>
    public static string ArchitectureName(CudaArchitecture architecture) => $"sm_{architecture.Major}{architecture.Minor}";

    // A PTX ISA the architecture has: 7.5 (CUDA 11.5) for Turing, 7.8 (CUDA 11.8, the first that knows sm_90) for Hopper.
    private static CudaInstructionSet LowestInstructionSet(CudaArchitecture architecture) =>
        architecture >= CudaArchitecture.SM_90 ? CudaInstructionSet.ISA_78 : CudaInstructionSet.ISA_75;
}
