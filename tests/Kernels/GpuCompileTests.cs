using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Tests.Kernels;

/// <summary>One ILGPU context for every compile: creating one per kernel would cost more than the compiles.</summary>
public sealed class CompileContextFixture : IDisposable
{
    public Context Context { get; } = KernelCatalog.CreateCompileContext();

    public void Dispose() => Context.Dispose();
}

/// <summary>
/// The ilgpu-cpu device runs kernels as .NET code, so it never shows whether ILGPU's compiler accepts them. These tests
/// compile every registered kernel (<see cref="KernelCatalog.All"/>, found by reflection: there is no list to forget a
/// kernel in) to PTX for sm_75 and sm_90 and to OpenCL C without fp64, with ILGPU's backends, which needs no GPU, so a
/// kernel that would only fail on a GPU fails here, and the row's name says which.
/// </summary>
public class GpuCompileTests(CompileContextFixture compiler) : IClassFixture<CompileContextFixture>
{
    public static TheoryData<string, string> Targets()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in KernelCatalog.All)
        {
            foreach (var arch in KernelCatalog.PtxTargets)
                data.Add(kernel.Name, KernelCatalog.ArchitectureName(arch));
            data.Add(kernel.Name, "opencl");
        }
        return data;
    }

    private static KernelEntry Find(string name) => KernelCatalog.All.Single(k => k.Name == name);

    [Theory]
    [MemberData(nameof(Targets))]
    public void Kernel_compiles_without_fp64(string kernel, string target)
    {
        var entry = Find(kernel);
        if (target == "opencl")
        {
            // Float64 support off: an OpenCL device without fp64 must still build every kernel.
            string source = KernelCatalog.CompileOpenCL(compiler.Context, entry);
            Assert.Contains("kernel", source);
            Assert.DoesNotContain("double", source);
            return;
        }
        var arch = KernelCatalog.PtxTargets.Single(a => KernelCatalog.ArchitectureName(a) == target);
        string ptx = KernelCatalog.CompilePtx(compiler.Context, entry, arch);
        // ILGPU writes the lowest architecture with the capabilities it uses (sm_80 when compiling for sm_90), but picks
        // instructions (tanh.approx from sm_75 on, for example) by the architecture it compiles for.
        Assert.Contains($".target {KernelCatalog.ArchitectureName(new CudaCapabilityContext(arch).TargetArchitecture)}", ptx);
        Assert.Contains(".entry", ptx);
        Assert.DoesNotContain(".f64", ptx);
    }

    // PTX's approximate instructions, per kernel, and why each is acceptable: exp and log in softmax cross-entropy
    // (ex2/lg2.approx: relative error about 2^-22 plus 2^-24 per unit of the exponent; the GPU parity test allows 1e-5
    // absolute, 1e-4 relative), exp in sigmoid and in tanh above 0.625 (damped to under 2e-6 relative; parity allows
    // 1e-5), and the augmentation's random parameters (sin/cos/lg2/ex2.approx of angles and scales: a different but
    // equally valid random transform). tanh.approx (relative error 2^-11) is not acceptable anywhere.
    private static readonly Dictionary<string, string> AllowedApproximations = new()
    {
        ["Activation.ForwardKernel<SigmoidOp>"] = "ex2.approx",
        ["Activation.ForwardKernel<TanhOp>"] = "ex2.approx",
        ["Augment.StageKernel"] = "cos.approx, ex2.approx, lg2.approx, sin.approx",
        ["SoftmaxCrossEntropy.BackwardKernel"] = "ex2.approx",
        ["SoftmaxCrossEntropy.BackwardSoftKernel"] = "ex2.approx",
        ["SoftmaxCrossEntropy.BackwardSoftWarpKernel"] = "ex2.approx",
        ["SoftmaxCrossEntropy.BackwardWarpKernel"] = "ex2.approx",
        ["SoftmaxCrossEntropy.ForwardBackwardWarpKernel"] = "ex2.approx, lg2.approx",
        ["SoftmaxCrossEntropy.ForwardKernel"] = "ex2.approx, lg2.approx",
        ["SoftmaxCrossEntropy.ForwardSoftKernel"] = "ex2.approx, lg2.approx",
        ["SoftmaxCrossEntropy.ForwardSoftWarpKernel"] = "ex2.approx, lg2.approx",
        ["SoftmaxCrossEntropy.ForwardWarpKernel"] = "ex2.approx, lg2.approx",
    };

    [Fact]
    public void Only_the_documented_kernels_use_approximate_gpu_instructions_and_none_uses_tanh_approx()
    {
        foreach (var kernel in KernelCatalog.All)
            foreach (var arch in KernelCatalog.PtxTargets)
            {
                string ptx = KernelCatalog.CompilePtx(compiler.Context, kernel, arch);
                Assert.DoesNotContain("tanh.approx", ptx);
                string used = string.Join(", ", System.Text.RegularExpressions.Regex.Matches(ptx, @"\b[a-z0-9]+\.approx\b")
                    .Select(m => m.Value).Distinct().Order(StringComparer.Ordinal));
                Assert.True(used == AllowedApproximations.GetValueOrDefault(kernel.Name, ""),
                    $"{kernel.Name} on {KernelCatalog.ArchitectureName(arch)} uses [{used}]; documented: [{AllowedApproximations.GetValueOrDefault(kernel.Name, "")}]");
            }
    }

    [Fact]
    public void Catalog_finds_every_op_folder_and_each_instantiation_of_the_generic_kernels()
    {
        var names = KernelCatalog.All.Select(k => k.Name).ToHashSet();
        // One kernel from every op folder, including the two the old hand-kept list had missed.
        foreach (string name in new[]
                 {
                     "Activation.ForwardKernel<TanhOp>", "Activation.BackwardKernel<SigmoidOp>", "Augment.StageKernel",
                     "Bias.GradientKernel", "Dropout.MaskKernel", "Gather.RowsKernel", "Gather.ValuesKernel", "Gemm.TiledKernel",
                     "Knn.TopKKernel", "MeanSquaredError.ForwardKernel", "Optimizers.AdamKernel", "Proximal.SoftThresholdKernel",
                     "Reduce.SumKernel<SquareTerm>", "SoftmaxCrossEntropy.BackwardSoftKernel",
                 })
            Assert.Contains(name, names);
        Assert.Equal(names.Count, KernelCatalog.All.Count);
        Assert.All(KernelCatalog.All, k => Assert.False(k.Method.ContainsGenericParameters, k.Name));
    }

    // Not marked [GpuKernel]: the device must refuse to load it.
    private static void UnregisteredKernel(ArrayView<float> x)
    {
        if (Grid.GlobalIndex.X < x.IntLength) x[Grid.GlobalIndex.X] = 1f;
    }

    [GpuKernel(typeof(int))]
    private static void ListedForIntOnly<T>(ArrayView<float> x, T value) where T : struct
    {
        if (Grid.GlobalIndex.X < x.IntLength) x[Grid.GlobalIndex.X] = 2f;
    }

    [Fact]
    public void A_kernel_that_is_not_registered_cannot_be_loaded()
    {
        using var device = Device.Open("ilgpu-cpu");
        var e = Assert.Throws<InvalidOperationException>(() => device.Kernel<ArrayView<float>>(UnregisteredKernel));
        Assert.Contains("UnregisteredKernel", e.Message);
        Assert.Contains("[GpuKernel]", e.Message);
        var g = Assert.Throws<InvalidOperationException>(() => device.Kernel<ArrayView<float>, float>(ListedForIntOnly));
        Assert.Contains("ListedForIntOnly<Single>", g.Message);
        Assert.NotNull(device.Kernel<ArrayView<float>, int>(ListedForIntOnly));
    }
}
