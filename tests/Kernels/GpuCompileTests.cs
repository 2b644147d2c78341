using System.Reflection;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The ilgpu-cpu device runs kernels as .NET code, so it never shows whether ILGPU's compiler accepts them. These tests
/// compile kernels to PTX and to OpenCL C (without fp64) with ILGPU's backends, which needs no GPU, so a kernel that
/// would only fail on a GPU fails here.
/// </summary>
public class GpuCompileTests
{
    // Generic kernels name the operator struct to instantiate them with after a '/'.
    public static TheoryData<string, string> Kernels() => new()
    {
        { nameof(Dropout), "MaskKernel" },
        { nameof(Dropout), "ApplyKernel" },
        { nameof(Dropout), "ScaleKernel" },
        { nameof(Dropout), "BackwardKernel" },
        { nameof(Optimizers), "SgdKernel" },
        { nameof(Optimizers), "AdagradKernel" },
        { nameof(Optimizers), "RmsPropKernel" },
        { nameof(Optimizers), "AdamKernel" },
        { nameof(Proximal), "SoftThresholdKernel" },
        { nameof(Activation), "ForwardKernel/ReluOp" },
        { nameof(Activation), "ForwardKernel/LeakyReluOp" },
        { nameof(Activation), "ForwardKernel/TanhOp" },
        { nameof(Activation), "ForwardKernel/SigmoidOp" },
        { nameof(Activation), "BackwardKernel/TanhOp" },
        { nameof(Activation), "BackwardKernel/LeakyReluOp" },
        { nameof(Bias), "AddKernel" },
        { nameof(Bias), "GradientKernel" },
        { nameof(Reduce), "SumKernel/ValueTerm" },
        { nameof(Reduce), "SumKernel/SquareTerm" },
        { nameof(Reduce), "RowArgmaxKernel" },
        { nameof(Reduce), "CountCorrectKernel" },
        { nameof(SoftmaxCrossEntropy), "ForwardKernel" },
        { nameof(SoftmaxCrossEntropy), "BackwardKernel" },
        { nameof(SoftmaxCrossEntropy), "ForwardSoftKernel" },
        { nameof(SoftmaxCrossEntropy), "BackwardSoftKernel" },
        { nameof(MeanSquaredError), "ForwardKernel" },
        { nameof(MeanSquaredError), "BackwardKernel" },
        { nameof(Gemm), "SimpleKernel" },
        { nameof(Gemm), "TiledKernel" },
        { nameof(Knn), "RowSquaredNormsKernel" },
        { nameof(Knn), "AddNormsKernel" },
        { nameof(Knn), "L1Kernel" },
        { nameof(Knn), "TopKKernel" },
        { nameof(Knn), "VoteKernel" },
    };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_compiles_to_ptx_and_to_opencl_c_without_fp64(string type, string method)
    {
        var assembly = typeof(Dropout).Assembly;
        string[] parts = method.Split('/');
        var kernel = assembly.GetType($"GpuNet.Kernels.{type}")!
            .GetMethod(parts[0], BindingFlags.NonPublic | BindingFlags.Static);
        Assert.NotNull(kernel);
        if (parts.Length > 1) kernel = kernel.MakeGenericMethod(assembly.GetType($"GpuNet.Kernels.{parts[1]}", throwOnError: true)!);
        var entry = EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        using var context = Context.Create(b => b.Default().EnableAlgorithms());

        Backend ptx = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_75), CudaArchitecture.SM_75,
            CudaInstructionSet.ISA_75, nvvmAPI: null);
        var ptxKernel = (PTXCompiledKernel)ptx.Compile(entry, default(KernelSpecialization));
        Assert.DoesNotContain(".f64", ptxKernel.PTXAssembly);

        // Float64 support off: an OpenCL device without fp64 must still build every kernel.
        Backend cl = new CLBackend(context, new CLCapabilityContext(float16: false, float64: false, genericAddressSpace: true, int64_Atomics: true, subGroups: false), CLDeviceVendor.Other, CLCVersion.CL20);
        var clKernel = (CLCompiledKernel)cl.Compile(entry, default(KernelSpecialization));
        Assert.DoesNotContain("double", clKernel.Source);
    }
}
