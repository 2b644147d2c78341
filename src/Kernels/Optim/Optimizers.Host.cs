using ILGPU;

namespace GpuNet.Kernels;

public static partial class Optimizers
{
    // Scalar host loops through the same rule structs as the kernels; the SIMD versions come with the host engine.

    private static void SgdHost(ArrayView<float> w, ArrayView<float> g, ArrayView<float> buf, SgdArgs args)
    {
        var ws = HostView.Span(w);
        var gs = HostView.Span(g);
        var bs = HostView.Span(buf);
        bool momentum = args.UseMomentum != 0;
        for (int i = 0; i < ws.Length; i++)
        {
            var u = args.Apply(ws[i], gs[i], momentum ? bs[i] : 0f);
            ws[i] = u.W;
            if (momentum) bs[i] = u.MomentumBuffer;
        }
    }

    private static void AdagradHost(ArrayView<float> w, ArrayView<float> g, ArrayView<float> sum, AdagradArgs args)
    {
        var ws = HostView.Span(w);
        var gs = HostView.Span(g);
        var ss = HostView.Span(sum);
        for (int i = 0; i < ws.Length; i++)
        {
            var u = args.Apply(ws[i], gs[i], ss[i]);
            ws[i] = u.W;
            ss[i] = u.Sum;
        }
    }

    private static void RmsPropHost(ArrayView<float> w, ArrayView<float> g, ArrayView<float> sq, ArrayView<float> buf, ArrayView<float> gavg,
        RmsPropArgs args)
    {
        var ws = HostView.Span(w);
        var gs = HostView.Span(g);
        var sqs = HostView.Span(sq);
        var bs = HostView.Span(buf);
        var gas = HostView.Span(gavg);
        bool momentum = args.UseMomentum != 0, centered = args.Centered != 0;
        for (int i = 0; i < ws.Length; i++)
        {
            var u = args.Apply(ws[i], gs[i], sqs[i], momentum ? bs[i] : 0f, centered ? gas[i] : 0f);
            ws[i] = u.W;
            sqs[i] = u.SquareAvg;
            if (momentum) bs[i] = u.MomentumBuffer;
            if (centered) gas[i] = u.GradAvg;
        }
    }

    private static void AdamHost(ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, ArrayView<float> vmax,
        AdamArgs args)
    {
        var ws = HostView.Span(w);
        var gs = HostView.Span(g);
        var ms = HostView.Span(m);
        var vs = HostView.Span(v);
        var vmaxs = HostView.Span(vmax);
        bool amsgrad = args.Amsgrad != 0;
        for (int i = 0; i < ws.Length; i++)
        {
            var u = args.Apply(ws[i], gs[i], ms[i], vs[i], amsgrad ? vmaxs[i] : 0f);
            ws[i] = u.W;
            ms[i] = u.ExpAvg;
            vs[i] = u.ExpAvgSq;
            if (amsgrad) vmaxs[i] = u.MaxExpAvgSq;
        }
    }
}
