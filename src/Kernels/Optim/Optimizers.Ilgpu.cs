using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Optimizers
{
    // One kernel per rule, one launch over all parameters. The option flags in the args structs are the same for
    // every thread, so their branches never diverge. A state view an option turns off is w itself and is not touched.

    [GpuKernel]
    private static void SgdKernel(ArrayView<float> w, ArrayView<float> g, ArrayView<float> buf, SgdArgs args)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < w.IntLength; i += stride)
        {
            var u = args.Apply(w[i], g[i], args.UseMomentum != 0 ? buf[i] : 0f);
            w[i] = u.W;
            if (args.UseMomentum != 0) buf[i] = u.MomentumBuffer;
        }
    }

    [GpuKernel]
    private static void AdagradKernel(ArrayView<float> w, ArrayView<float> g, ArrayView<float> sum, AdagradArgs args)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < w.IntLength; i += stride)
        {
            var u = args.Apply(w[i], g[i], sum[i]);
            w[i] = u.W;
            sum[i] = u.Sum;
        }
    }

    [GpuKernel]
    private static void RmsPropKernel(ArrayView<float> w, ArrayView<float> g, ArrayView<float> sq, ArrayView<float> buf, ArrayView<float> gavg,
        RmsPropArgs args)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < w.IntLength; i += stride)
        {
            var u = args.Apply(w[i], g[i], sq[i], args.UseMomentum != 0 ? buf[i] : 0f, args.Centered != 0 ? gavg[i] : 0f);
            w[i] = u.W;
            sq[i] = u.SquareAvg;
            if (args.UseMomentum != 0) buf[i] = u.MomentumBuffer;
            if (args.Centered != 0) gavg[i] = u.GradAvg;
        }
    }

    [GpuKernel]
    private static void AdamKernel(ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, ArrayView<float> vmax,
        AdamArgs args)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < w.IntLength; i += stride)
        {
            var u = args.Apply(w[i], g[i], m[i], v[i], args.Amsgrad != 0 ? vmax[i] : 0f);
            w[i] = u.W;
            m[i] = u.ExpAvg;
            v[i] = u.ExpAvgSq;
            if (args.Amsgrad != 0) vmax[i] = u.MaxExpAvgSq;
        }
    }

    private static void SgdIlgpu(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> buf, SgdArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdArgs>(SgdKernel);
        kernel(device.Config1D(w.Length), w, g, buf, args);
        device.AfterLaunch();
    }

    private static void AdagradIlgpu(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> sum, AdagradArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, AdagradArgs>(AdagradKernel);
        kernel(device.Config1D(w.Length), w, g, sum, args);
        device.AfterLaunch();
    }

    private static void RmsPropIlgpu(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> sq, ArrayView<float> buf,
        ArrayView<float> gavg, RmsPropArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, RmsPropArgs>(RmsPropKernel);
        kernel(device.Config1D(w.Length), w, g, sq, buf, gavg, args);
        device.AfterLaunch();
    }

    private static void AdamIlgpu(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v,
        ArrayView<float> vmax, AdamArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArgs>(AdamKernel);
        kernel(device.Config1D(w.Length), w, g, m, v, vmax, args);
        device.AfterLaunch();
    }
}
