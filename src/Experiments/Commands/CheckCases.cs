using System.Globalization;
using GpuNet.Kernels;
using GpuNet.Nn;
using Dropout = GpuNet.Kernels.Dropout;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Experiments.Commands;

/// <summary>
/// The comparisons of <c>gpunet check</c>: every op at the MLP's training shapes and at large shapes (tiny ones with
/// <c>--quick</c>), then ten training steps of the MLP. Each case draws its inputs from a fixed seed once, on the host, so
/// the device under test and the host engine get the same numbers; each returns every output of the op, flattened.
/// </summary>
/// <remarks>
/// Tolerances follow from the arithmetic: bit-identical where both sides do the same IEEE operations (comparisons, one
/// addition, products by 0 or 1, Philox integer arithmetic), one or two ulp where a GPU may fuse a multiply and an add, and
/// bounds that grow with the length of a sum where the device adds in another order than the host engine. Each tolerance
/// carries its reason, which check.md prints.
/// </remarks>
internal static class CheckCases
{
    private const float Ulp = 1f / (1 << 23);

    /// <summary>The sizes of one mode of the check.</summary>
    private sealed record Sizes(
        int MlpBatch, (int M, int K, int N)[] Gemm, int[] Elementwise, (int Rows, int Cols)[] Rows, (int Rows, int Cols)[] Logits,
        int[] Parameters, int Images, (int Queries, int References, int K)[] Knn);

    private static readonly Sizes QuickSizes = new(
        MlpBatch: 8,
        Gemm: [(33, 17, 9), (7, 130, 19)],
        Elementwise: [1003],
        Rows: [(17, 33)],
        Logits: [(17, 10), (5, 300)],
        Parameters: [1003],
        Images: 3,
        Knn: [(5, 37, 4)]);

    private static readonly Sizes FullSizes = new(
        MlpBatch: 64,
        Gemm: [(1023, 1025, 1027), (4096, 4096, 4096)],
        Elementwise: [64 * 256, 4_000_037],
        Rows: [(64, 256), (4096, 1027)],
        Logits: [(64, 10), (8192, 10), (1024, 1000)],
        Parameters: [MlpParameters, 4_000_037],
        Images: 256,
        Knn: [(256, 8192, 201)]);

    /// <summary>The number of parameters of the 784-256-128-10 MLP.</summary>
    private const int MlpParameters = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10;

    /// <summary>Every comparison of the check, in the order check.md lists them.</summary>
    public static List<CheckCase> Build(bool quick, int maxGroupThreads = int.MaxValue)
    {
        var s = quick ? QuickSizes : FullSizes;
        var cases = new List<CheckCase>();
        AddGemm(cases, s);
        AddGemmVariants(cases, maxGroupThreads);
        AddBias(cases, s);
        AddActivations(cases, s);
        AddSoftmaxCrossEntropy(cases, s);
        AddDropout(cases, s);
        AddOptimizers(cases, s);
        AddReductions(cases, s);
        AddMeanSquaredError(cases, s);
        AddGather(cases, s);
        AddAugment(cases, s);
        AddKnn(cases, s);
        cases.Add(MlpTraining(s.MlpBatch, steps: 10));
        return cases;
    }

    private static void AddGemm(List<CheckCase> cases, Sizes s)
    {
        var shapes = new List<GemmBench.Shape>();
        shapes.AddRange(GemmBench.MlpShapes(s.MlpBatch));
        foreach (var (m, k, n) in s.Gemm)
            foreach (var ta in new[] { Transpose.No, Transpose.Yes })
                foreach (var tb in new[] { Transpose.No, Transpose.Yes })
                    shapes.Add(new GemmBench.Shape(m, k, n, ta, tb));
        foreach (var shape in shapes)
        {
            var a = Uniform((long)shape.M * shape.K, 11);
            var b = Uniform((long)shape.K * shape.N, 12);
            var c0 = Uniform((long)shape.M * shape.N, 13);
            var tol = new Tolerance(shape.K * Math.Pow(2, -22) + 1e-6, 1e-5,
                "a float32 sum of k products of values in [-1, 1] in another order than the host's: rounding grows with k (atol = k·2⁻²²)");
            cases.Add(new CheckCase("gemm", shape.ToString(), tol, d =>
            {
                using var ta = Tensor.FromArray(d, a, a.Length);
                using var tb = Tensor.FromArray(d, b, b.Length);
                using var tc = Tensor.FromArray(d, c0, c0.Length);
                // beta = 0.5 reads C, as a backward pass that accumulates does; alpha != 1 checks the scaling.
                Gemm.Run(d, shape.TransA, shape.TransB, shape.M, shape.N, shape.K, 0.75f, ta.View, tb.View, 0.5f, tc.View);
                return tc.ToArray();
            }));
        }
    }

    /// <summary>
    /// Each generated GEMM tile (kernel 3) forced on the device under test, with split-K and the fused bias + ReLU epilogue,
    /// at a shape just past one tile in every direction (so small enough for --quick); the host engine computes the same
    /// through the public GEMM with its bias and ReLU. Tiles needing more threads than <paramref name="maxGroupThreads"/>
    /// get no row.
    /// </summary>
    private static void AddGemmVariants(List<CheckCase> cases, int maxGroupThreads)
    {
        foreach (var tile in Gemm.GeneratedTiles)
        {
            if (tile.Threads > maxGroupThreads) continue;
            int m = tile.BM + 1, n = tile.BN + 3, k = 2 * tile.BK + 5;
            foreach (var (splits, chunk) in new[] { (1, 0), (2, 2 * tile.BK) })
                foreach (var (ta, tb) in new[] { (Transpose.No, Transpose.Yes), (Transpose.Yes, Transpose.No) })
                {
                    var a = Uniform((long)m * k, 14);
                    var b = Uniform((long)k * n, 15);
                    var bias = Uniform(n, 16);
                    var tol = new Tolerance(k * Math.Pow(2, -22) + 1e-6, 1e-5,
                        "a float32 sum of k products of values in [-1, 1] in another order than the host's, plus a bias, then ReLU (atol = k·2⁻²²)");
                    string shape = $"{m}x{k}x{n}:{(ta == Transpose.Yes ? 'T' : 'N')}{(tb == Transpose.Yes ? 'T' : 'N')} bias relu{(splits > 1 ? $" split-K {splits}x{chunk}" : "")}";
                    cases.Add(new CheckCase($"gemm.{tile.Tile.ToString().ToLowerInvariant()}", shape, tol, d =>
                    {
                        using var tA = Tensor.FromArray(d, a, a.Length);
                        using var tB = Tensor.FromArray(d, b, b.Length);
                        using var tBias = Tensor.FromArray(d, bias, bias.Length);
                        using var tC = Tensor.FromArray(d, new float[m * n], m * n);
                        if (d.UsesHostEngine)
                            Gemm.Run(d, ta, tb, m, n, k, 0.75f, tA.View, tB.View, 0f, tC.View, tBias.View, ActivationKind.Relu);
                        else
                            Gemm.RunGenerated(d, tile.Tile, splits, chunk, ta, tb, m, n, k, 0.75f, tA.View, tB.View, 0f, tC.View,
                                tBias.View, ActivationKind.Relu);
                        return tC.ToArray();
                    }));
                }
        }
    }

    private static void AddBias(List<CheckCase> cases, Sizes s)
    {
        foreach (var (rows, cols) in s.Rows)
        {
            var y = Uniform((long)rows * cols, 21);
            var bias = Uniform(cols, 22);
            string shape = $"{rows}x{cols}";
            cases.Add(new CheckCase("bias.add", shape, Tolerance.Identical("one float32 addition per element: exact on every backend"), d =>
            {
                using var ty = Tensor.FromArray(d, y, y.Length);
                using var tb = Tensor.FromArray(d, bias, bias.Length);
                Bias.Add(d, ty.View, tb.View, rows, cols);
                return ty.ToArray();
            }));
            var db0 = Uniform(cols, 23);
            cases.Add(new CheckCase("bias.grad", shape,
                new Tolerance(rows * Math.Pow(2, -22) + 1e-6, 1e-5, "column sums of `rows` values in [-1, 1] in another order (atol = rows·2⁻²²)"), d =>
            {
                using var ty = Tensor.FromArray(d, y, y.Length);
                using var tdb = Tensor.FromArray(d, db0, db0.Length);
                Bias.Gradient(d, ty.View, tdb.View, rows, cols);
                return tdb.ToArray();
            }));
        }
    }

    private static void AddActivations(List<CheckCase> cases, Sizes s)
    {
        foreach (int n in s.Elementwise)
        {
            var x = Uniform(n, 31, -5f, 5f);
            var dy = Uniform(n, 32);
            var dx0 = Uniform(n, 33);
            foreach (var kind in Enum.GetValues<ActivationKind>())
            {
                string name = kind.ToString().ToLowerInvariant();
                bool transcendental = kind is ActivationKind.Tanh or ActivationKind.Sigmoid;
                var forwardTol = transcendental
                    ? new Tolerance(2e-6, 2e-6, "tanh and exp are not correctly rounded on GPUs: a few ulp")
                    : Tolerance.Identical("comparisons and at most one product: exact on every backend");
                cases.Add(new CheckCase($"activation.{name}.forward", n.ToString(CultureInfo.InvariantCulture), forwardTol, d =>
                {
                    using var tx = Tensor.FromArray(d, x, n);
                    using var ty = Tensor.Zeros(d, n);
                    Activation.Forward(d, kind, tx.View, ty.View);
                    return ty.ToArray();
                }));
                // The backward reads the forward output for tanh and sigmoid; both sides get the same one, computed here.
                var y = new float[n];
                for (int i = 0; i < n; i++) y[i] = (float)ForwardReference(kind, x[i]);
                cases.Add(new CheckCase($"activation.{name}.backward", n.ToString(CultureInfo.InvariantCulture),
                    new Tolerance(1e-7, 2 * Ulp, "dx += dy·f': a GPU may fuse the multiply and the add (one rounding instead of two)"), d =>
                {
                    using var tx = Tensor.FromArray(d, x, n);
                    using var ty = Tensor.FromArray(d, y, n);
                    using var tdy = Tensor.FromArray(d, dy, n);
                    using var tdx = Tensor.FromArray(d, dx0, n);
                    Activation.Backward(d, kind, tx.View, ty.View, tdy.View, tdx.View);
                    return tdx.ToArray();
                }));
            }
        }
    }

    private static double ForwardReference(ActivationKind kind, float x) => kind switch
    {
        ActivationKind.Identity => x,
        ActivationKind.Relu => Math.Max(x, 0),
        ActivationKind.LeakyRelu => x > 0 ? x : Activation.DefaultSlope * x,
        ActivationKind.Tanh => Math.Tanh(x),
        ActivationKind.Sigmoid => 1 / (1 + Math.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static void AddSoftmaxCrossEntropy(List<CheckCase> cases, Sizes s)
    {
        var lossTol = new Tolerance(1e-5, 1e-5, "exp and log are not correctly rounded on GPUs, and the mean adds the rows in another order");
        var gradTol = new Tolerance(1e-8, 1e-4, "softmax probabilities through a GPU's exp: a few ulp, relative to tiny probabilities too");
        foreach (var (batch, classes) in s.Logits)
        {
            string shape = $"{batch}x{classes}";
            var z = Uniform((long)batch * classes, 41, -10f, 10f);
            var labels = Ints(batch, classes, 42);
            var dz0 = Uniform((long)batch * classes, 43, -1e-3f, 1e-3f);
            cases.Add(new CheckCase("softmax-ce.forward", shape + " hard", lossTol with { Why = lossTol.Why + "; the correct count is an integer and must be equal" }, d =>
            {
                using var tz = Tensor.FromArray(d, z, z.Length);
                using var lab = d.Accelerator.Allocate1D(labels);
                using var rowLoss = Tensor.Zeros(d, batch);
                using var loss = Tensor.Zeros(d, 1);
                using var correct = d.Accelerator.Allocate1D<int>(1);
                SoftmaxCrossEntropy.Forward(d, tz.View, lab.View, batch, classes, rowLoss.View, loss.View, correct.View);
                return [.. rowLoss.ToArray(), .. loss.ToArray(), .. ToFloats(correct)];
            }));
            cases.Add(new CheckCase("softmax-ce.backward", shape + " hard", gradTol, d =>
            {
                using var tz = Tensor.FromArray(d, z, z.Length);
                using var lab = d.Accelerator.Allocate1D(labels);
                using var dz = Tensor.FromArray(d, dz0, dz0.Length);
                SoftmaxCrossEntropy.Backward(d, tz.View, lab.View, batch, classes, dz.View, scale: 0.7f);
                return dz.ToArray();
            }));
            // The fused forward + backward of the training step (one launch on CUDA and the CPU accelerators; the separate
            // ops on the host engine): loss outputs and gradient in two rows, for their two tolerances.
            float[] Fused(Device d, bool gradient)
            {
                using var tz = Tensor.FromArray(d, z, z.Length);
                using var lab = d.Accelerator.Allocate1D(labels);
                using var rowLoss = Tensor.Zeros(d, batch);
                using var loss = Tensor.Zeros(d, 1);
                using var correct = d.Accelerator.Allocate1D<int>(1);
                using var dz = Tensor.FromArray(d, dz0, dz0.Length); // overwritten, not accumulated into
                SoftmaxCrossEntropy.ForwardBackward(d, tz.View, lab.View, batch, classes, rowLoss.View, loss.View, correct.View, dz.View, scale: 0.7f);
                return gradient ? dz.ToArray() : [.. rowLoss.ToArray(), .. loss.ToArray(), .. ToFloats(correct)];
            }
            cases.Add(new CheckCase("softmax-ce.fused-forward", shape + " hard",
                lossTol with { Why = lossTol.Why + "; the correct count is an integer and must be equal" }, d => Fused(d, gradient: false)));
            cases.Add(new CheckCase("softmax-ce.fused-backward", shape + " hard", gradTol, d => Fused(d, gradient: true)));
            var teacher = Uniform((long)batch * classes, 44, -10f, 10f);
            const float temperature = 2f;
            cases.Add(new CheckCase("softmax-ce.soft-forward", shape + " T=2", lossTol, d =>
            {
                using var ts = Tensor.FromArray(d, z, z.Length);
                using var tt = Tensor.FromArray(d, teacher, teacher.Length);
                using var rowLoss = Tensor.Zeros(d, batch);
                using var loss = Tensor.Zeros(d, 1);
                SoftmaxCrossEntropy.ForwardSoft(d, ts.View, tt.View, batch, classes, temperature, rowLoss.View, loss.View);
                return [.. rowLoss.ToArray(), .. loss.ToArray()];
            }));
            cases.Add(new CheckCase("softmax-ce.soft-backward", shape + " T=2", gradTol, d =>
            {
                using var ts = Tensor.FromArray(d, z, z.Length);
                using var tt = Tensor.FromArray(d, teacher, teacher.Length);
                using var dz = Tensor.FromArray(d, dz0, dz0.Length);
                SoftmaxCrossEntropy.BackwardSoft(d, ts.View, tt.View, batch, classes, temperature, dz.View, scale: 0.5f);
                return dz.ToArray();
            }));
        }
    }

    private static void AddDropout(List<CheckCase> cases, Sizes s)
    {
        const float pKeep = 0.7f;
        foreach (int n in s.Elementwise)
        {
            string shape = n.ToString(CultureInfo.InvariantCulture) + " p_keep=0.7";
            cases.Add(new CheckCase("dropout.mask", shape, Tolerance.Identical("Philox4x32-10 is integer arithmetic: the same seed gives the same mask on every backend"), d =>
            {
                using var mask = Tensor.Zeros(d, n);
                Dropout.GenerateMask(d, mask.View, pKeep, seed: 1234, stream: 5);
                return mask.ToArray();
            }));
            var x = Uniform(n, 51);
            var mask01 = new float[n];
            for (int i = 0; i < n; i++) mask01[i] = Philox.Uniform(99, 1, (ulong)i) < pKeep ? 1f : 0f;
            cases.Add(new CheckCase("dropout.forward", shape + " inverted", Tolerance.Identical("x·mask·(1/p_keep) with a 0/1 mask: the same products everywhere"), d =>
            {
                using var tx = Tensor.FromArray(d, x, n);
                using var tm = Tensor.FromArray(d, mask01, n);
                using var ty = Tensor.Zeros(d, n);
                Dropout.ForwardTrain(d, DropoutMode.Inverted, tx.View, tm.View, ty.View, pKeep);
                return ty.ToArray();
            }));
            var dx0 = Uniform(n, 52);
            cases.Add(new CheckCase("dropout.backward", shape + " inverted",
                new Tolerance(1e-7, 2 * Ulp, "dx += dy·mask/p_keep: a GPU may fuse the multiply and the add"), d =>
            {
                using var tdy = Tensor.FromArray(d, x, n);
                using var tm = Tensor.FromArray(d, mask01, n);
                using var tdx = Tensor.FromArray(d, dx0, n);
                Dropout.Backward(d, DropoutMode.Inverted, tdy.View, tm.View, tdx.View, pKeep);
                return tdx.ToArray();
            }));
        }
    }

    /// <summary>An optimizer's update, applied three times with a new gradient each step; returns the weights and its state.</summary>
    private delegate void OptimizerStep(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float>[] state, int step);

    private static void AddOptimizers(List<CheckCase> cases, Sizes s)
    {
        var optimizers = new (string Name, int States, OptimizerStep Step)[]
        {
            ("sgd", 0, (d, w, g, st, t) => Optimizers.SgdStep(d, w, g, default, new SgdOptions { LearningRate = 0.1 }, t)),
            ("sgd-momentum", 1, (d, w, g, st, t) => Optimizers.SgdStep(d, w, g, st[0],
                new SgdOptions { LearningRate = 0.05, Momentum = 0.9, Dampening = 0.1, WeightDecay = 1e-3 }, t)),
            ("sgd-nesterov", 1, (d, w, g, st, t) => Optimizers.SgdStep(d, w, g, st[0],
                new SgdOptions { LearningRate = 0.05, Momentum = 0.9, Nesterov = true, L1 = 1e-3 }, t)),
            ("adagrad", 1, (d, w, g, st, t) => Optimizers.AdagradStep(d, w, g, st[0],
                new AdagradOptions { LearningRate = 0.01, LearningRateDecay = 0.01, WeightDecay = 1e-3, InitialAccumulatorValue = 0.1 }, t)),
            ("rmsprop", 1, (d, w, g, st, t) => Optimizers.RmsPropStep(d, w, g, st[0], default, default, new RmsPropOptions { LearningRate = 0.01 }, t)),
            ("rmsprop-centered-momentum", 3, (d, w, g, st, t) => Optimizers.RmsPropStep(d, w, g, st[0], st[1], st[2],
                new RmsPropOptions { LearningRate = 0.01, Momentum = 0.9, Centered = true, WeightDecay = 1e-3 }, t)),
            ("adam", 2, (d, w, g, st, t) => Optimizers.AdamStep(d, w, g, st[0], st[1], default, new AdamOptions { WeightDecay = 1e-3, L1 = 1e-4 }, t)),
            ("adam-amsgrad", 3, (d, w, g, st, t) => Optimizers.AdamStep(d, w, g, st[0], st[1], st[2], new AdamOptions { Amsgrad = true }, t)),
            ("adamw", 2, (d, w, g, st, t) => Optimizers.AdamWStep(d, w, g, st[0], st[1], default, new AdamWOptions { LearningRate = 0.01 }, t)),
        };
        var tol = new Tolerance(1e-6, 1e-5,
            "three steps of square roots, divisions and fused multiply-adds, which a GPU may round differently by an ulp each");
        foreach (int n in s.Parameters)
        {
            var w0 = Uniform(n, 61, -0.1f, 0.1f);
            var grads = new[] { Uniform(n, 62), Uniform(n, 63), Uniform(n, 64) };
            string shape = n == MlpParameters ? $"{n} (the MLP's parameters)" : n.ToString(CultureInfo.InvariantCulture);
            foreach (var (name, states, step) in optimizers)
            {
                cases.Add(new CheckCase($"optim.{name}", shape + ", 3 steps", tol, d =>
                {
                    using var w = Tensor.FromArray(d, w0, n);
                    using var g = Tensor.Zeros(d, n);
                    var state = new Tensor[states];
                    try
                    {
                        for (int i = 0; i < states; i++) state[i] = Tensor.Zeros(d, n);
                        var views = state.Select(t => t.View).ToArray();
                        for (int t = 1; t <= grads.Length; t++)
                        {
                            g.CopyFrom(grads[t - 1]);
                            step(d, w.View, g.View, views, t);
                        }
                        return [.. w.ToArray(), .. state.SelectMany(t => t.ToArray())];
                    }
                    finally
                    {
                        foreach (var t in state) t?.Dispose();
                    }
                }));
            }
            cases.Add(new CheckCase("proximal.soft-threshold", shape, Tolerance.Identical("a subtraction and comparisons: exact on every backend"), d =>
            {
                using var w = Tensor.FromArray(d, w0, n);
                Proximal.SoftThreshold(d, w.View, 0.03f);
                return w.ToArray();
            }));
        }
    }

    private static void AddReductions(List<CheckCase> cases, Sizes s)
    {
        foreach (int n in s.Elementwise)
        {
            var x = Uniform(n, 71);
            double sumAbs = x.Sum(v => (double)Math.Abs(v)), sumSq = x.Sum(v => (double)v * v);
            string shape = n.ToString(CultureInfo.InvariantCulture);
            const string why = "a float32 sum on the device (partial sums in any order) against the host's float64 one: atol = 2⁻²⁰·Σ|term|";
            cases.Add(new CheckCase("reduce.sum", shape, new Tolerance(sumAbs * Math.Pow(2, -20), 1e-6, why), d =>
            {
                using var tx = Tensor.FromArray(d, x, n);
                using var r = Tensor.Zeros(d, 1);
                Reduce.Sum(d, tx.View, r.View);
                return r.ToArray();
            }));
            cases.Add(new CheckCase("reduce.sum-of-squares", shape, new Tolerance(sumSq * Math.Pow(2, -20), 1e-6, why), d =>
            {
                using var tx = Tensor.FromArray(d, x, n);
                using var r = Tensor.Zeros(d, 1);
                Reduce.SumOfSquares(d, tx.View, r.View);
                return r.ToArray();
            }));
        }
        foreach (var (rows, cols) in s.Logits)
        {
            var z = Uniform((long)rows * cols, 72);
            var labels = Ints(rows, cols, 73);
            string shape = $"{rows}x{cols}";
            cases.Add(new CheckCase("reduce.argmax", shape, Tolerance.Identical("comparisons only: the same index everywhere"), d =>
            {
                using var tz = Tensor.FromArray(d, z, z.Length);
                using var r = d.Accelerator.Allocate1D<int>(rows);
                Reduce.RowArgmax(d, tz.View, rows, cols, r.View);
                return ToFloats(r);
            }));
            cases.Add(new CheckCase("reduce.count-correct", shape, Tolerance.Identical("an integer count"), d =>
            {
                using var tz = Tensor.FromArray(d, z, z.Length);
                using var lab = d.Accelerator.Allocate1D(labels);
                using var r = d.Accelerator.Allocate1D<int>(1);
                Reduce.CountCorrect(d, tz.View, lab.View, rows, cols, r.View);
                return ToFloats(r);
            }));
        }
    }

    private static void AddMeanSquaredError(List<CheckCase> cases, Sizes s)
    {
        foreach (var (rows, cols) in s.Rows)
        {
            var p = Uniform((long)rows * cols, 81);
            var t = Uniform((long)rows * cols, 82);
            var dp0 = Uniform((long)rows * cols, 83, -1e-3f, 1e-3f);
            string shape = $"{rows}x{cols}";
            cases.Add(new CheckCase("mse.forward", shape,
                new Tolerance(1e-6, 1e-5, "row sums and their mean in another order than the host's"), d =>
            {
                using var tp = Tensor.FromArray(d, p, p.Length);
                using var tt = Tensor.FromArray(d, t, t.Length);
                using var rowLoss = Tensor.Zeros(d, rows);
                using var loss = Tensor.Zeros(d, 1);
                MeanSquaredError.Forward(d, tp.View, tt.View, rows, cols, rowLoss.View, loss.View);
                return [.. rowLoss.ToArray(), .. loss.ToArray()];
            }));
            cases.Add(new CheckCase("mse.backward", shape,
                new Tolerance(1e-9, 4 * Ulp, "dp += c·(p - t): a GPU may fuse the multiply and the add"), d =>
            {
                using var tp = Tensor.FromArray(d, p, p.Length);
                using var tt = Tensor.FromArray(d, t, t.Length);
                using var dp = Tensor.FromArray(d, dp0, dp0.Length);
                MeanSquaredError.Backward(d, tp.View, tt.View, rows, cols, dp.View, scale: 0.5f);
                return dp.ToArray();
            }));
        }
    }

    private static void AddGather(List<CheckCase> cases, Sizes s)
    {
        const int pixels = 784, sourceRows = 1000;
        var images = new float[sourceRows * pixels];
        var rng = new Random(91);
        for (int i = 0; i < images.Length; i++) images[i] = rng.Next(256);
        int batch = s.MlpBatch;
        var indices = Ints(batch, sourceRows, 92);
        // The loader's map: pixel/255, then (x - mean)/std with Fashion-MNIST's training mean and std.
        float scale = (float)(1 / 255.0 / 0.3530), shift = (float)(-0.2862 / 0.3530);
        cases.Add(new CheckCase("gather.rows", $"{batch} of {sourceRows}x{pixels}",
            new Tolerance(1e-6, 2 * Ulp, "x·scale + shift: a GPU may fuse the multiply and the add"), d =>
        {
            using var src = Tensor.FromArray(d, images, images.Length);
            using var idx = d.Accelerator.Allocate1D(indices);
            using var dst = Tensor.Zeros(d, batch * pixels);
            Gather.Rows(d, src.View, pixels, idx.View, dst.View, scale, shift);
            return dst.ToArray();
        }));
        var labels = Ints(sourceRows, 10, 93);
        cases.Add(new CheckCase("gather.values", $"{batch} of {sourceRows}", Tolerance.Identical("a copy"), d =>
        {
            using var src = d.Accelerator.Allocate1D(labels);
            using var idx = d.Accelerator.Allocate1D(indices);
            using var dst = d.Accelerator.Allocate1D<int>(batch);
            Gather.Values(d, src.View, idx.View, dst.View);
            return ToFloats(dst);
        }));
    }

    private static void AddAugment(List<CheckCase> cases, Sizes s)
    {
        const int height = 28, width = 28;
        int count = s.Images;
        var images = Uniform((long)count * height * width, 101, 0f, 1f);
        var ids = Ints(count, 60_000, 102);
        var exact = Tolerance.Identical("Philox draws and exact integer arithmetic decide every pixel");
        var rounded = new Tolerance(1e-5, 1e-5, "sine, cosine, logarithm and square root are not correctly rounded on GPUs");
        var stages = new (AugmentStage Stage, Tolerance Tolerance)[]
        {
            (AugmentStage.Flip(), exact),
            (AugmentStage.Shift(2), exact),
            (AugmentStage.Rotate(-10, 10), rounded),
            (AugmentStage.Erase(probability: 0.9f), exact with
            {
                Why = "Philox draws decide the rectangle; its sides go through exp and sqrt, so on a GPU an edge could move by a pixel " +
                      "when a side lands within an ulp of a half pixel (about one image in a million)",
            }),
            (AugmentStage.Noise(0.05f), rounded),
        };
        foreach (var (stage, tol) in stages)
        {
            cases.Add(new CheckCase($"augment.{stage.Kind.ToString().ToLowerInvariant()}", $"{count}x{height}x{width} {stage}", tol, d =>
            {
                using var src = Tensor.FromArray(d, images, images.Length);
                using var dst = Tensor.Zeros(d, images.Length);
                using var sampleIds = d.Accelerator.Allocate1D(ids);
                Augment.Apply(d, stage, src.View, dst.View, sampleIds.View, height, width, seed: 7, stream: 3);
                return dst.ToArray();
            }));
        }
    }

    private static void AddKnn(List<CheckCase> cases, Sizes s)
    {
        const int dim = 784;
        foreach (var (queries, references, k) in s.Knn)
        {
            var q = Uniform((long)queries * dim, 111, 0f, 1f);
            var r = Uniform((long)references * dim, 112, 0f, 1f);
            string shape = $"{queries}x{references}x{dim}";
            cases.Add(new CheckCase("knn.norms", $"{references}x{dim}",
                new Tolerance(1e-6, 1e-5, "a float32 sum of 784 squares in another order"), d =>
            {
                using var tr = Tensor.FromArray(d, r, r.Length);
                using var norms = Tensor.Zeros(d, references);
                Knn.RowSquaredNorms(d, tr.View, references, dim, norms.View);
                return norms.ToArray();
            }));
            // Both sides get the norms from the host, so the comparison is of the distance op alone.
            var qn = RowNorms(q, queries, dim);
            var rn = RowNorms(r, references, dim);
            cases.Add(new CheckCase("knn.l2-distances", shape,
                new Tolerance(dim * Math.Pow(2, -18), 1e-5,
                    "|q|² + |r|² - 2·q·r in float32: three sums of dim terms that grow linearly (values in [0, 1]), rounded in another order, then cancellation (atol = dim·2⁻¹⁸)"), d =>
            {
                using var tq = Tensor.FromArray(d, q, q.Length);
                using var tr = Tensor.FromArray(d, r, r.Length);
                using var tqn = Tensor.FromArray(d, qn, queries);
                using var trn = Tensor.FromArray(d, rn, references);
                using var dist = Tensor.Zeros(d, queries * references);
                Knn.SquaredL2Distances(d, tq.View, tqn.View, queries, tr.View, trn.View, references, dim, dist.View);
                return dist.ToArray();
            }));
            cases.Add(new CheckCase("knn.l1-distances", shape,
                new Tolerance(dim * Math.Pow(2, -17), 1e-5,
                    "the host engine adds max(q, r) (a sum near 2·dim/3) and subtracts both row sums, so its float32 error is that of the larger sums (atol = dim·2⁻¹⁷ for values in [0, 1])"), d =>
            {
                using var tq = Tensor.FromArray(d, q, q.Length);
                using var tr = Tensor.FromArray(d, r, r.Length);
                using var dist = Tensor.Zeros(d, queries * references);
                Knn.L1Distances(d, tq.View, queries, tr.View, references, dim, dist.View);
                return dist.ToArray();
            }));

            // Top-k and votes from the same distance block on both sides: selection is exact, so the lists must be equal.
            var block = Uniform((long)queries * references, 113, 0f, 100f);
            int half = references / 2;
            var exclude = Ints(queries, references, 114);
            cases.Add(new CheckCase("knn.top-k", $"{queries}x{references} k={k}, two merged blocks",
                Tolerance.Identical("a selection: the same distances give the same lists"), d =>
            {
                using var full = Tensor.FromArray(d, block, block.Length);
                using var first = Tensor.FromArray(d, Columns(block, queries, references, 0, half), queries * half);
                using var second = Tensor.FromArray(d, Columns(block, queries, references, half, references - half), queries * (references - half));
                using var bestD = Tensor.Zeros(d, queries * k);
                using var bestI = d.Accelerator.Allocate1D<int>((long)queries * k);
                using var skip = d.Accelerator.Allocate1D(exclude);
                Knn.SelectTopK(d, first.View, queries, half, 0, k, bestD.View, bestI.View, merge: false, skip.View);
                Knn.SelectTopK(d, second.View, queries, references - half, half, k, bestD.View, bestI.View, merge: true, skip.View);
                return [.. bestD.ToArray(), .. ToFloats(bestI)];
            }));

            // The warp-per-query top-k (version 2), forced where the device would run version 1 (the plain ilgpu-cpu), with a
            // list longer than a warp.
            int kWide = Math.Max(k, 33);
            cases.Add(new CheckCase("knn.top-k-warp", $"{queries}x{references} k={kWide}, two merged blocks",
                Tolerance.Identical("a selection: the same distances give the same lists"), d =>
            {
                using var first = Tensor.FromArray(d, Columns(block, queries, references, 0, half), queries * half);
                using var second = Tensor.FromArray(d, Columns(block, queries, references, half, references - half), queries * (references - half));
                using var bestD = Tensor.Zeros(d, queries * kWide);
                using var bestI = d.Accelerator.Allocate1D<int>((long)queries * kWide);
                using var skip = d.Accelerator.Allocate1D(exclude);
                Knn.ForceWarpTopK = true;
                try
                {
                    Knn.SelectTopK(d, first.View, queries, half, 0, kWide, bestD.View, bestI.View, merge: false, skip.View);
                    Knn.SelectTopK(d, second.View, queries, references - half, half, kWide, bestD.View, bestI.View, merge: true, skip.View);
                }
                finally { Knn.ForceWarpTopK = false; }
                return [.. bestD.ToArray(), .. ToFloats(bestI)];
            }));

            var listD = new float[queries * k];
            var listI = new int[queries * k];
            var rng = new Random(115);
            for (int row = 0; row < queries; row++)
            {
                double at = rng.NextDouble();
                for (int j = 0; j < k; j++)
                {
                    at += rng.NextDouble();
                    listD[row * k + j] = (float)at;
                    listI[row * k + j] = rng.Next(references);
                }
            }
            var labels = Ints(references, 10, 116);
            foreach (var weights in new[] { KnnWeights.Uniform, KnnWeights.Distance })
                foreach (int votes in new[] { 1, Math.Max(1, k / 2) | 1, k }.Distinct())
                {
                    cases.Add(new CheckCase("knn.vote", $"{queries} lists of {k}, k={votes} {weights.ToString().ToLowerInvariant()}",
                        Tolerance.Identical("counts, or 1/√d weights added in neighbour order: the same class everywhere unless two classes tie to the last bit"), d =>
                    {
                        using var td = Tensor.FromArray(d, listD, listD.Length);
                        using var ti = d.Accelerator.Allocate1D(listI);
                        using var tl = d.Accelerator.Allocate1D(labels);
                        using var predictions = d.Accelerator.Allocate1D<int>(queries);
                        Knn.Vote(d, td.View, ti.View, queries, k, votes, tl.View, 10, weights, squaredDistances: true, predictions.View);
                        return ToFloats(predictions);
                    }));
                }
        }
    }

    /// <summary>
    /// Ten SGD steps of the course's 784-256-128-10 ReLU MLP on Fashion-MNIST-shaped random data (normalised pixels,
    /// random labels): the step losses and every parameter afterwards.
    /// </summary>
    private static CheckCase MlpTraining(int batch, int steps)
    {
        const int features = 784, classes = 10;
        var x = Uniform((long)batch * steps * features, 121, -0.81f, 2.02f);
        var y = Ints(batch * steps, classes, 122);
        return new CheckCase("mlp.train", $"784-256-128-10 ReLU, batch {batch}, SGD lr 0.1, {steps} steps",
            new Tolerance(1e-5, 1e-4, "every op's rounding differences, compounded over ten steps"), d =>
        {
            using var xs = Tensor.FromArray(d, x, batch * steps, features);
            using var labels = d.Accelerator.Allocate1D(y);
            using var model = new Sequential(d, features, 42, new Linear(784, 256), new ReLU(), new Linear(256, 128), new ReLU(), new Linear(128, 10));
            using var loss = new CrossEntropyLoss(d);
            using var sgd = new Sgd(model.Parameters, lr: 0.1);
            using var losses = d.Accelerator.Allocate1D<float>(steps);
            using var correct = d.Accelerator.Allocate1D<int>(steps);
            model.Train();
            for (int s = 0; s < steps; s++)
            {
                using var xb = xs.Rows(s * batch, batch);
                var yb = labels.View.SubView(s * batch, batch);
                sgd.ZeroGrad();
                var logits = model.Forward(xb);
                loss.Forward(logits, yb, losses.View.SubView(s, 1), correct.View.SubView(s, 1));
                model.Backward(loss.Backward(logits, yb));
                sgd.Step();
            }
            d.Synchronize();
            return [.. losses.GetAsArray1D(), .. model.Parameters.Values.ToArray()];
        });
    }

    private static float[] Uniform(long n, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }

    private static int[] Ints(int n, int max, int seed)
    {
        var rng = new Random(seed);
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = rng.Next(max);
        return a;
    }

    private static float[] ToFloats(MemoryBuffer1D<int, Stride1D.Dense> buffer)
    {
        buffer.Accelerator.Synchronize();
        return [.. buffer.GetAsArray1D().Select(v => (float)v)];
    }

    private static float[] RowNorms(float[] x, int rows, int dim)
    {
        var norms = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int j = 0; j < dim; j++) sum += (double)x[r * dim + j] * x[r * dim + j];
            norms[r] = (float)sum;
        }
        return norms;
    }

    private static float[] Columns(float[] block, int rows, int cols, int start, int count)
    {
        var part = new float[rows * count];
        for (int r = 0; r < rows; r++) Array.Copy(block, r * cols + start, part, r * count, count);
        return part;
    }
}
