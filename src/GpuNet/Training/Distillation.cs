using GpuNet.Nn;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Training;

/// <summary>The terms of a <see cref="DistillationObjective"/> and their weights.</summary>
public sealed record DistillationOptions
{
    /// <summary>The teacher's layer whose output the student's features are trained to match (for example its last hidden
    /// ReLU).</summary>
    public required int TeacherFeatures { get; init; }

    /// <summary>The student's layer whose output is projected onto the teacher's features (for example its hidden ReLU).</summary>
    public required int StudentFeatures { get; init; }

    /// <summary><c>β</c>, the weight of the feature loss; 0 leaves the feature loss (and the projection) out.</summary>
    public double FeatureWeight { get; init; } = 1;

    /// <summary>The feature loss is <c>MSE(proj(h_s), h_t) / FeatureScale</c>: with the teacher features' mean square here
    /// it is a relative error (1 for a projection that outputs zeros), whatever the features' scale.</summary>
    public double FeatureScale { get; init; } = 1;

    /// <summary><c>α</c>, the weight of Hinton's soft-target loss (<see cref="SoftTargetLoss"/>); 0 leaves it out.</summary>
    public double SoftWeight { get; init; }

    /// <summary>The soft-target loss's temperature <c>T</c>.</summary>
    public float Temperature { get; init; } = 4;
}

/// <summary>One epoch's mean distillation terms (training mode), unweighted.</summary>
/// <param name="FeatureMse">The mean squared error between the projected student features and the teacher's (NaN without a feature term).</param>
/// <param name="FeatureLoss">The feature loss, <c>FeatureMse / FeatureScale</c>.</param>
/// <param name="Soft">The soft-target loss (with its <c>T²</c>; NaN without a soft term).</param>
public sealed record DistillationTerms(double FeatureMse, double FeatureLoss, double Soft);

/// <summary>
/// Knowledge distillation as a <see cref="Trainer"/> objective. The student (the trainer's model) minimises
/// <c>CE(s, y) + β·MSE(P·h_s + b, h_t)/scale + α·T²·CE(softmax(t/T), softmax(s/T))</c>, where <c>s</c> and <c>t</c> are the
/// student's and the teacher's logits, <c>h_s</c> and <c>h_t</c> the outputs of their feature layers, and <c>P, b</c> a
/// learned linear projection from the student's feature width to the teacher's (FitNets' "hint" regressor, Romero et al.
/// 2015; the soft term is Hinton et al. 2015). The teacher is frozen: it runs forward in evaluation mode (no dropout) on
/// every training batch and never backward, so its parameters and gradients are never written. The projection is
/// training-only: it has its own <see cref="ParameterStore"/> and optimizer (stepped at the student's learning rate), so
/// the student's parameters, count and checkpoint are the deployable network alone.
/// </summary>
/// <remarks>
/// Back-propagation: the logits' gradient is the hard-label gradient plus <c>α</c> times the soft one (both kernels
/// accumulate into one buffer); the feature loss's gradient runs back through the projection to <c>h_s</c> and is added
/// there to the gradient arriving from the student's head (<see cref="Sequential.Backward(Tensor, int, Tensor, bool)"/>).
/// The trainer's loss slots get the cross-entropy term alone, so running losses compare with an undistilled run's; the
/// other terms are averaged per epoch in <see cref="History"/>.
/// </remarks>
public sealed class DistillationObjective : ITrainingObjective, IDisposable
{
    private readonly Sequential _teacher, _student;
    private readonly CrossEntropyLoss _ce;
    private readonly MseLoss? _mse;
    private readonly SoftTargetLoss? _soft;
    private readonly Optimizer? _projectionOptimizer;
    private MemoryBuffer1D<float, Stride1D.Dense>? _featureSlots, _softSlots;
    private int _steps;

    /// <summary>Distils <paramref name="teacher"/> into <paramref name="student"/> (both owned by the caller).</summary>
    /// <param name="teacher">The trained teacher; it is switched to evaluation mode and only ever run forward.</param>
    /// <param name="student">The model the trainer trains.</param>
    /// <param name="options">Which layers, which terms and their weights.</param>
    /// <param name="createOptimizer">Creates the projection's optimizer for its parameters (normally the same kind as the student's).</param>
    /// <param name="seed">The projection's initialisation seed.</param>
    /// <exception cref="ArgumentException">The networks do not fit together (devices, inputs, classes or layer indices).</exception>
    public DistillationObjective(Sequential teacher, Sequential student, DistillationOptions options, Func<ParameterStore, Optimizer> createOptimizer,
        ulong seed)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(createOptimizer);
        if (teacher.Device != student.Device) throw new ArgumentException("the teacher and the student must live on one device.", nameof(student));
        if (teacher.InputFeatures != student.InputFeatures || teacher.OutputFeatures != student.OutputFeatures)
            throw new ArgumentException($"the teacher ({teacher.InputFeatures} -> {teacher.OutputFeatures}) and the student " +
                $"({student.InputFeatures} -> {student.OutputFeatures}) must have the same inputs and classes.", nameof(student));
        if (options.FeatureWeight < 0 || options.SoftWeight < 0 || !(options.FeatureScale > 0) || !double.IsFinite(options.FeatureScale))
            throw new ArgumentException("the weights must be non-negative and the feature scale positive.", nameof(options));
        _teacher = teacher;
        _student = student;
        Options = options;
        _ce = new CrossEntropyLoss(student.Device);
        try
        {
            if (options.FeatureWeight > 0)
            {
                CheckLayer(teacher, options.TeacherFeatures, "teacher");
                CheckLayer(student, options.StudentFeatures, "student");
                teacher.KeepOutput(options.TeacherFeatures);
                student.KeepOutput(options.StudentFeatures);
                int studentWidth = student.OutputFeaturesOf(options.StudentFeatures);
                TeacherWidth = teacher.OutputFeaturesOf(options.TeacherFeatures);
                Projection = new Sequential(student.Device, studentWidth, seed, new Linear(studentWidth, TeacherWidth));
                _projectionOptimizer = createOptimizer(Projection.Parameters);
                _mse = new MseLoss(student.Device);
            }
            if (options.SoftWeight > 0) _soft = new SoftTargetLoss(student.Device, options.Temperature);
        }
        catch
        {
            Dispose();
            throw;
        }
        teacher.Eval();
    }

    private static void CheckLayer(Sequential model, int layer, string name)
    {
        // The last layer's output is the logits, and Backward(addAt) adds gradients only below it.
        if (layer < 0 || layer >= model.Modules.Count - 1)
            throw new ArgumentException($"the {name}'s feature layer must be one of its layers 0..{model.Modules.Count - 2}; got {layer}.", nameof(layer));
    }

    /// <summary>The settings.</summary>
    public DistillationOptions Options { get; }

    /// <summary>The learned projection <c>student features -> teacher features</c> (null without a feature term).</summary>
    public Sequential? Projection { get; }

    /// <summary>The width of the teacher's feature layer (0 without a feature term).</summary>
    public int TeacherWidth { get; }

    /// <summary>The mean terms of every finished training epoch.</summary>
    public List<DistillationTerms> History { get; } = [];

    /// <inheritdoc />
    public void BeginEpoch(int steps)
    {
        _steps = steps;
        Ensure(ref _featureSlots, steps);
        Ensure(ref _softSlots, steps);
    }

    private void Ensure(ref MemoryBuffer1D<float, Stride1D.Dense>? slots, int steps)
    {
        if (slots is not null && slots.Length >= steps) return;
        slots?.Dispose();
        slots = _student.Device.Accelerator.Allocate1D<float>(Math.Max(1, steps));
    }

    /// <inheritdoc />
    public void ZeroGrad() => _projectionOptimizer?.ZeroGrad();

    /// <inheritdoc />
    public void Backward(Tensor images, ArrayView<int> labels, Tensor logits, ArrayView<float> loss, ArrayView<int> correct, int step)
    {
        if (_featureSlots is null || step >= _steps) throw new InvalidOperationException("BeginEpoch must announce the epoch's steps first.");
        _teacher.Eval();
        var teacherLogits = _teacher.Forward(images);
        var gradient = _ce.ForwardBackward(logits, labels, loss, correct);
        if (_soft is not null)
        {
            _soft.Forward(logits, teacherLogits, _softSlots!.View.SubView(step, 1));
            _soft.AddGradient(logits, teacherLogits, gradient, (float)Options.SoftWeight);
        }
        if (Projection is null)
        {
            _student.Backward(gradient);
            return;
        }
        var target = _teacher.OutputOf(Options.TeacherFeatures);
        var projected = Projection.Forward(_student.OutputOf(Options.StudentFeatures));
        _mse!.Forward(projected, target, _featureSlots.View.SubView(step, 1));
        var dProjected = _mse.Backward(projected, target, (float)(Options.FeatureWeight / Options.FeatureScale));
        var dFeatures = Projection.Backward(dProjected, needInputGrad: true)!;
        _student.Backward(gradient, Options.StudentFeatures, dFeatures);
    }

    /// <inheritdoc />
    public void Step(double learningRate)
    {
        if (_projectionOptimizer is null) return;
        _projectionOptimizer.LearningRate = learningRate;
        _projectionOptimizer.Step();
    }

    /// <inheritdoc />
    public void EndEpoch()
    {
        _student.Device.Synchronize();
        double Mean(MemoryBuffer1D<float, Stride1D.Dense>? slots, bool used)
        {
            if (!used || _steps == 0) return double.NaN;
            var values = new float[_steps];
            slots!.View.SubView(0, _steps).CopyToCPU(values);
            return values.Average(v => (double)v);
        }
        double mse = Mean(_featureSlots, Projection is not null);
        History.Add(new DistillationTerms(mse, mse / Options.FeatureScale, Mean(_softSlots, _soft is not null)));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _ce.Dispose();
        _mse?.Dispose();
        _soft?.Dispose();
        _projectionOptimizer?.Dispose();
        Projection?.Dispose();
        _featureSlots?.Dispose();
        _softSlots?.Dispose();
    }
}
