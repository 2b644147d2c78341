using GpuNet.Data;
using GpuNet.Kernels;
using GpuNet.Nn;
using GpuNet.Tests.Kernels;
using GpuNet.Training;

namespace GpuNet.Tests.Training;

/// <summary>
/// Knowledge distillation (<see cref="DistillationObjective"/>): the combined loss's gradient against central finite
/// differences of an independent float64 forward, and a frozen teacher that training never writes to.
/// </summary>
[Collection("devices")]
public class DistillationTests(DeviceFixture devices)
{
    private const int B = 5, D = 6, Ht = 5, H = 4, C = 3;

    public static TheoryData<string, ActivationKind> Cases() => new()
    {
        { "cpu", ActivationKind.Tanh }, { "ilgpu-cpu", ActivationKind.Tanh },
        { "cpu", ActivationKind.Relu }, { "ilgpu-cpu", ActivationKind.Relu },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Combined_loss_gradient_matches_finite_differences_for_student_and_projection(string spec, ActivationKind act)
    {
        var device = devices.Get(spec);
        // The teacher has dropout, which the objective must switch off: its features are the hidden ReLU's output (layer 1).
        using var teacher = new Sequential(device, D, 21, new Linear(D, Ht), new ReLU(), new GpuNet.Nn.Dropout(0.5f), new Linear(Ht, C));
        using var student = new Sequential(device, D, 22, new Linear(D, H), new ActivationModule(act), new Linear(H, C));
        var options = new DistillationOptions
        {
            TeacherFeatures = 1, StudentFeatures = 1, FeatureWeight = 0.7, FeatureScale = 1.3, SoftWeight = 0.6, Temperature = 2.5f,
        };
        using var objective = new DistillationObjective(teacher, student, options, p => new Sgd(p, 0.1), seed: 23);
        teacher.Train();
        var xData = Data.Uniform(B * D, 24, -2f, 2f);
        int[] labels = [0, 2, 1, 1, 0];
        using var x = Tensor.FromArray(device, xData, B, D);
        using var lab = IntBuffers.Upload(device, labels);
        using var loss = Tensor.Zeros(device, 1);
        using var correct = IntBuffers.Filled(device, 1, 0);

        student.Train();
        student.ZeroGrad();
        objective.BeginEpoch(1);
        objective.ZeroGrad();
        var logits = student.Forward(x);
        objective.Backward(x, lab.View, logits, loss.View, correct.View, 0);
        objective.EndEpoch();
        Assert.All(teacher.Modules, m => Assert.False(m.IsTraining));

        var projection = objective.Projection!;
        double[] Get(Sequential m, string name) => D64(m.Parameters[name].Value.ToArray());
        double[] tw1 = Get(teacher, "0.weight"), tb1 = Get(teacher, "0.bias"), tw2 = Get(teacher, "3.weight"), tb2 = Get(teacher, "3.bias");
        double[] w1 = Get(student, "0.weight"), b1 = Get(student, "0.bias"), w2 = Get(student, "2.weight"), b2 = Get(student, "2.bias");
        double[] pw = Get(projection, "0.weight"), pb = Get(projection, "0.bias");
        var xs = D64(xData);
        double beta = options.FeatureWeight / options.FeatureScale, alpha = options.SoftWeight, T = options.Temperature;

        // The teacher in evaluation mode, in float64: features h_t = relu(x·W1ᵀ + b1) and logits h_t·W2ᵀ + b2.
        var ht = new double[B][];
        var tl = new double[B][];
        for (int r = 0; r < B; r++)
        {
            ht[r] = Dense(xs.AsSpan(r * D, D), tw1, tb1, Ht).Select(v => Math.Max(v, 0)).ToArray();
            tl[r] = Dense(ht[r], tw2, tb2, C);
        }

        (double Ce, double Mse, double Soft) Terms(double[] pw1, double[] pb1, double[] pw2, double[] pb2, double[] ppw, double[] ppb)
        {
            double ce = 0, mse = 0, soft = 0;
            for (int r = 0; r < B; r++)
            {
                var h = Dense(xs.AsSpan(r * D, D), pw1, pb1, H).Select(v => act == ActivationKind.Tanh ? Math.Tanh(v) : Math.Max(v, 0)).ToArray();
                var s = Dense(h, pw2, pb2, C);
                ce += LogSumExp(s) - s[labels[r]];
                var p = Dense(h, ppw, ppb, Ht);
                for (int j = 0; j < Ht; j++) mse += (p[j] - ht[r][j]) * (p[j] - ht[r][j]);
                var sT = s.Select(v => v / T).ToArray();
                var tT = tl[r].Select(v => v / T).ToArray();
                double lseS = LogSumExp(sT), lseT = LogSumExp(tT);
                for (int c = 0; c < C; c++) soft -= Math.Exp(tT[c] - lseT) * (sT[c] - lseS);
            }
            return (ce / B, mse / (B * Ht), T * T * soft / B);
        }
        double F(double[] pw1, double[] pb1, double[] pw2, double[] pb2, double[] ppw, double[] ppb)
        {
            var (ce, mse, soft) = Terms(pw1, pb1, pw2, pb2, ppw, ppb);
            return ce + beta * mse + alpha * soft;
        }

        var (ce0, mse0, soft0) = Terms(w1, b1, w2, b2, pw, pb);
        Close.Scalar(loss.ToArray()[0], ce0, 1e-5, 1e-5, "cross-entropy slot");
        Close.Scalar(objective.History[0].FeatureMse, mse0, 1e-5, 1e-5, "feature MSE");
        Close.Scalar(objective.History[0].FeatureLoss, mse0 / options.FeatureScale, 1e-5, 1e-5, "feature loss");
        Close.Scalar(objective.History[0].Soft, soft0, 1e-5, 1e-5, "soft-target loss");

        // float32 kernels against float64 differences, as the other gradient checks.
        Close.All(student.Parameters["0.weight"].Grad.ToArray(), FiniteDifference.Gradient(w1, p => F(p, b1, w2, b2, pw, pb)), 1e-5, 1e-3, "dW1");
        Close.All(student.Parameters["0.bias"].Grad.ToArray(), FiniteDifference.Gradient(b1, p => F(w1, p, w2, b2, pw, pb)), 1e-5, 1e-3, "db1");
        Close.All(student.Parameters["2.weight"].Grad.ToArray(), FiniteDifference.Gradient(w2, p => F(w1, b1, p, b2, pw, pb)), 1e-5, 1e-3, "dW2");
        Close.All(student.Parameters["2.bias"].Grad.ToArray(), FiniteDifference.Gradient(b2, p => F(w1, b1, w2, p, pw, pb)), 1e-5, 1e-3, "db2");
        Close.All(projection.Parameters["0.weight"].Grad.ToArray(), FiniteDifference.Gradient(pw, p => F(w1, b1, w2, b2, p, pb)), 1e-5, 1e-3, "dP");
        Close.All(projection.Parameters["0.bias"].Grad.ToArray(), FiniteDifference.Gradient(pb, p => F(w1, b1, w2, b2, pw, p)), 1e-5, 1e-3, "dPb");
        Assert.All(teacher.Parameters.Grads.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Training_the_student_never_changes_the_teacher_and_trains_student_and_projection()
    {
        var device = devices.Host;
        using var train = DeviceImages.Upload(device, Blobs(160, 1));
        var indices = Enumerable.Range(0, 160).ToArray();
        var norm = Normalization.FromImages(train.Source, indices);
        using var loader = new DataLoader(train, indices, new DataLoaderOptions { BatchSize = 16, Seed = 5, Normalization = norm });
        using var teacher = new Sequential(device, 16, 31, new Linear(16, 12), new ReLU(), new GpuNet.Nn.Dropout(0.3f), new Linear(12, 2));
        using var student = new Sequential(device, 16, 32, new Linear(16, 3), new ReLU(), new Linear(3, 2));
        var teacherValues = teacher.Parameters.Values.ToArray();
        var teacherGrads = teacher.Parameters.Grads.ToArray();
        var studentValues = student.Parameters.Values.ToArray();
        var options = new DistillationOptions { TeacherFeatures = 1, StudentFeatures = 1, FeatureWeight = 1, SoftWeight = 0.5 };
        using var objective = new DistillationObjective(teacher, student, options, p => new Adam(p, 0.01), seed: 33);
        var projectionValues = objective.Projection!.Parameters.Values.ToArray();
        using var adam = new Adam(student.Parameters, 0.01);
        using var trainer = new Trainer(student, adam, objective);

        var result = trainer.Fit(loader, null, null, null, new TrainerOptions { Epochs = 3, EvaluateTrain = false });

        Assert.Equal(3, result.History.Count);
        Assert.Equal(3, objective.History.Count);
        Assert.All(objective.History, t => Assert.True(double.IsFinite(t.FeatureMse) && double.IsFinite(t.Soft), t.ToString()));
        Assert.True(objective.History[^1].FeatureLoss < objective.History[0].FeatureLoss, "the feature loss falls");
        Assert.Equal(teacherValues, teacher.Parameters.Values.ToArray());
        Assert.Equal(teacherGrads, teacher.Parameters.Grads.ToArray());
        Assert.NotEqual(studentValues, student.Parameters.Values.ToArray());
        Assert.NotEqual(projectionValues, objective.Projection.Parameters.Values.ToArray());
    }

    [Fact]
    public void Layers_that_do_not_fit_are_rejected()
    {
        var device = devices.Host;
        using var teacher = new Sequential(device, 8, 1, new Linear(8, 6), new ReLU(), new Linear(6, 3));
        using var student = new Sequential(device, 8, 2, new Linear(8, 2), new ReLU(), new Linear(2, 3));
        using var other = new Sequential(device, 8, 3, new Linear(8, 2), new ReLU(), new Linear(2, 4));
        Optimizer Sgd(ParameterStore p) => new Sgd(p, 0.1);
        Assert.Throws<ArgumentException>(() => new DistillationObjective(teacher, other, new() { TeacherFeatures = 1, StudentFeatures = 1 }, Sgd, 1));
        Assert.Throws<ArgumentException>(() => new DistillationObjective(teacher, student, new() { TeacherFeatures = 2, StudentFeatures = 1 }, Sgd, 1));
        using var ok = new DistillationObjective(teacher, student, new() { TeacherFeatures = 1, StudentFeatures = 0 }, Sgd, 1);
        Assert.Equal(6, ok.TeacherWidth);
        Assert.Equal([6, 2], ok.Projection!.Parameters["0.weight"].Shape);
    }

    // 4x4 images of 2 classes: class 0 bright on the left half, class 1 on the right half, with noise.
    private static ImageSet Blobs(int n, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[n * 16];
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % 2);
            for (int p = 0; p < 16; p++)
                pixels[i * 16 + p] = (byte)Math.Clamp(((p % 4 < 2) == (labels[i] == 0) ? 170 : 60) + rng.Next(-60, 60), 0, 255);
        }
        return new ImageSet("blobs", pixels, labels, 4, 4, 2);
    }

    private static double[] Dense(ReadOnlySpan<double> input, double[] w, double[] b, int outputs)
    {
        var y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double z = b[o];
            for (int i = 0; i < input.Length; i++) z += input[i] * w[o * input.Length + i];
            y[o] = z;
        }
        return y;
    }

    private static double LogSumExp(double[] v)
    {
        double max = v.Max();
        return max + Math.Log(v.Sum(x => Math.Exp(x - max)));
    }

    private static double[] D64(float[] a) => a.Select(v => (double)v).ToArray();
}
