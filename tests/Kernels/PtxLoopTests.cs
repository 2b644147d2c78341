using GpuNet.Kernels;
using ILGPU.Runtime.Cuda;
using Xunit.Abstractions;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The inner-loop figures docs/gpu.md quotes, read from the PTX ILGPU generates for sm_90 (<see cref="PtxLoops"/>): the
/// generated GEMM tiles must do exactly what their shape promises per depth slice (no spilled or repeated loads), and the
/// loop finder must see a loop whose blocks ILGPU laid out after its end.
/// </summary>
public class PtxLoopTests(CompileContextFixture compiler, ITestOutputHelper output) : IClassFixture<CompileContextFixture>
{
    private string Ptx(string kernel) =>
        KernelCatalog.CompilePtx(compiler.Context, KernelCatalog.All.Single(k => k.Name == kernel), CudaArchitecture.SM_90);

    public static TheoryData<string> Tiles()
    {
        var data = new TheoryData<string>();
        foreach (var t in Enum.GetNames<GemmTile>()) data.Add(t);
        return data;
    }

    [Theory]
    [MemberData(nameof(Tiles))]
    public void Generated_tile_loop_does_what_its_shape_promises(string tileName)
    {
        var shape = Gemm.TileShape(Enum.Parse<GemmTile>(tileName));
        var loop = PtxLoops.MultiplyLoop(Ptx($"Gemm.{tileName}Kernel"));
        Assert.NotNull(loop);
        output.WriteLine($"{tileName}: {loop}");
        int perThreadA = shape.BM * shape.BK / shape.Threads, perThreadB = shape.BN * shape.BK / shape.Threads;
        Assert.Equal(shape.BK * shape.TM * shape.TN, loop.MultiplyAdds);
        Assert.Equal(0, loop.Fma);
        Assert.Equal(shape.BK * (shape.TM + shape.TN), loop.LdShared);
        Assert.Equal(perThreadA + perThreadB, loop.LdGlobal);
        Assert.Equal(perThreadA + perThreadB, loop.StShared);
        Assert.Equal(1, loop.Barriers);
    }

    [Fact]
    public void Kernel_2_inner_loop_is_a_4x4_step()
    {
        var loop = PtxLoops.MultiplyLoop(Ptx("Gemm.TiledKernel"));
        Assert.NotNull(loop);
        output.WriteLine($"TiledKernel: {loop}");
        Assert.Equal(16, loop.MultiplyAdds);
        Assert.Equal(8, loop.LdShared);
        Assert.Equal(0, loop.LdGlobal);
        Assert.Equal(0, loop.Barriers);
    }

    [Fact]
    public void Loop_finder_follows_blocks_laid_out_after_the_loop_and_ignores_forward_jumps()
    {
        // L_head: load, multiply-add, a conditional jump to L_far (placed after the loop) that comes back to L_join, and
        // the back edge from L_join. A forward jump over one instruction (to L_skip) is no loop.
        const string ptx = """
            .visible .entry K(
            )
            {
            	.reg .f32 %f<9>;
            	mov.f32 %f1, 0f00000000;
            	@%p9 bra L_skip;
            	mov.f32 %f2, %f1;
            L_skip:
            L_head:
            	ld.shared.f32 %f3, [%rd1];
            	mul.f32 %f4, %f3, %f3;
            	add.f32 %f1, %f1, %f4;
            	@%p1 bra L_far;
            L_join:
            	bar.sync 0;
            	@%p2 bra L_head;
            	ret;
            L_far:
            	ld.global.f32 %f5, [%rd2];
            	st.shared.f32 [%rd3], %f5;
            	bra.uni L_join;
            }
            """;
        var loops = PtxLoops.Find(ptx);
        var loop = Assert.Single(loops);
        Assert.Equal("L_head", loop.Label);
        Assert.True(loop.Innermost);
        Assert.Equal((1, 1, 1, 1, 1, 1), (loop.MultiplyAdds, loop.LdShared, loop.LdGlobal, loop.StShared, loop.Barriers, loops.Count));
        Assert.Equal(loop, PtxLoops.MultiplyLoop(ptx));
    }
}
