using GpuNet.Kernels;

namespace GpuNet.Nn;

/// <summary>
/// <c>y = x·Wᵀ + b</c> with <c>W</c> of shape <c>[out, in]</c> and <c>b</c> of shape <c>[out]</c>, as <c>torch.nn.Linear</c>;
/// both initialised from <c>U(-1/√in, 1/√in)</c> (PyTorch's default: Kaiming-uniform with a = √5).
/// Backward: <c>dW += dyᵀ·x</c>, <c>db += Σ_rows dy</c>, <c>dx = dy·W</c>.
/// </summary>
public sealed class Linear : Module
{
    private Parameter? _weight, _bias;
    private Tensor? _output, _inputGrad;
    private Tensor? _input;

    /// <summary>A linear layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        HasBias = bias;
    }

    /// <summary>Tests set this (on their own thread) to run the forward as two launches, GEMM then bias, as before the bias
    /// moved into the GEMM's epilogue, to count what the fusion saves.</summary>
    [ThreadStatic]
    internal static bool UnfusedBias;

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool HasBias { get; }

    /// <summary>The weight <c>[out, in]</c>.</summary>
    public Parameter Weight => _weight ?? throw new InvalidOperationException("the layer is not part of a built model yet.");

    /// <summary>The bias <c>[out]</c>, or null.</summary>
    public Parameter? Bias => _bias;

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> ParameterSpecs =>
        HasBias
            ? [new("weight", [OutFeatures, InFeatures], Init.UniformFanIn, InFeatures, true), new("bias", [OutFeatures], Init.UniformFanIn, InFeatures, false)]
            : [new("weight", [OutFeatures, InFeatures], Init.UniformFanIn, InFeatures, true)];

    internal override void Bind(IReadOnlyList<Parameter> parameters)
    {
        _weight = parameters[0];
        _bias = HasBias ? parameters[1] : null;
    }

    /// <inheritdoc />
    public override int OutputFeatures(int inputFeatures)
    {
        if (inputFeatures != InFeatures)
            throw new ArgumentException($"{this} cannot follow a layer with {inputFeatures} outputs.", nameof(inputFeatures));
        return OutFeatures;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        CheckInput(input, InFeatures, ToString());
        int batch = input.Dim(0);
        _input = input;
        var y = Buffer(ref _output, batch, OutFeatures);
        if (UnfusedBias)
        {
            Gemm.Run(Device, Transpose.No, Transpose.Yes, batch, OutFeatures, InFeatures, 1f, input.View, Weight.Value.View, 0f, y.View);
            if (_bias is not null) Kernels.Bias.Add(Device, y.View, _bias.Value.View, batch, OutFeatures);
            return y;
        }
        // The bias rides in the GEMM's epilogue: one launch on an ILGPU device instead of two, the same arithmetic.
        Gemm.Run(Device, Transpose.No, Transpose.Yes, batch, OutFeatures, InFeatures, 1f, input.View, Weight.Value.View, 0f, y.View,
            _bias is null ? default : _bias.Value.View, ActivationKind.Identity);
        return y;
    }

    /// <summary>
    /// The forward of this layer followed by ReLU in one GEMM launch (the ReLU in the GEMM's epilogue): returns
    /// <c>max(x·Wᵀ + b, 0)</c>, the output of the ReLU after this layer, in this layer's output buffer; the pre-activation
    /// is never written. <see cref="Sequential"/> calls it on ILGPU devices; <see cref="Backward"/> is unchanged (it needs
    /// only the input).
    /// </summary>
    internal Tensor ForwardRelu(Tensor input)
    {
        CheckInput(input, InFeatures, ToString());
        int batch = input.Dim(0);
        _input = input;
        var y = Buffer(ref _output, batch, OutFeatures);
        Gemm.Run(Device, Transpose.No, Transpose.Yes, batch, OutFeatures, InFeatures, 1f, input.View, Weight.Value.View, 0f, y.View,
            _bias is null ? default : _bias.Value.View, ActivationKind.Relu);
        return y;
    }

    /// <inheritdoc />
    public override Tensor? Backward(Tensor gradOutput, bool needInputGrad)
    {
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        int batch = x.Dim(0);
        CheckInput(gradOutput, OutFeatures, ToString() + " backward");
        Gemm.Run(Device, Transpose.Yes, Transpose.No, OutFeatures, InFeatures, batch, 1f, gradOutput.View, x.View, 1f, Weight.Grad.View);
        if (_bias is not null) Kernels.Bias.Gradient(Device, gradOutput.View, _bias.Grad.View, batch, OutFeatures);
        if (!needInputGrad) return null;
        var dx = Buffer(ref _inputGrad, batch, InFeatures);
        Gemm.Run(Device, Transpose.No, Transpose.No, batch, InFeatures, OutFeatures, 1f, gradOutput.View, Weight.Value.View, 0f, dx.View);
        return dx;
    }

    /// <inheritdoc />
    public override string ToString() => $"Linear({InFeatures}, {OutFeatures}{(HasBias ? "" : ", bias=False")})";

    /// <inheritdoc />
    public override void Dispose()
    {
        _output?.Dispose();
        _inputGrad?.Dispose();
        base.Dispose();
    }
}

/// <summary>An elementwise activation (<see cref="ActivationKind"/>) as a module.</summary>
public class ActivationModule : Module
{
    private Tensor? _output, _inputGrad, _input;

    /// <summary>The activation <paramref name="kind"/>; <paramref name="slope"/> is LeakyReLU's negative slope.</summary>
    public ActivationModule(ActivationKind kind, float slope = Activation.DefaultSlope)
    {
        Kind = kind;
        Slope = slope;
    }

    /// <summary>The activation.</summary>
    public ActivationKind Kind { get; }

    /// <summary>LeakyReLU's negative slope.</summary>
    public float Slope { get; }

    /// <inheritdoc />
    public override int OutputFeatures(int inputFeatures) => inputFeatures;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        _input = input;
        var y = Buffer(ref _output, input.Dim(0), input.Dim(1));
        Activation.Forward(Device, Kind, input.View, y.View, Slope);
        _y = y;
        return y;
    }

    // The output of the last forward: this module's buffer, or, after FusedInto, the Linear layer's (which holds it).
    private Tensor? _y;

    /// <summary>
    /// Records that the layer before already applied this ReLU (<see cref="Linear.ForwardRelu"/>) and wrote
    /// <paramref name="output"/>: the backward then uses it as both input and output, which gives ReLU's derivative exactly
    /// (<c>y &gt; 0</c> exactly where <c>x &gt; 0</c>).
    /// </summary>
    internal void FusedInto(Tensor output)
    {
        if (Kind != ActivationKind.Relu) throw new InvalidOperationException($"only ReLU fuses into a Linear layer; this is {this}.");
        _input = output;
        _y = output;
    }

    /// <inheritdoc />
    public override Tensor? Backward(Tensor gradOutput, bool needInputGrad)
    {
        if (!needInputGrad) return null;
        var x = _input ?? throw new InvalidOperationException("Backward called before Forward.");
        var dx = Buffer(ref _inputGrad, x.Dim(0), x.Dim(1));
        dx.Clear();
        Activation.Backward(Device, Kind, x.View, _y!.View, gradOutput.View, dx.View, Slope);
        return dx;
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        ActivationKind.Relu => "ReLU()",
        ActivationKind.LeakyRelu => $"LeakyReLU({Slope})",
        ActivationKind.Tanh => "Tanh()",
        ActivationKind.Sigmoid => "Sigmoid()",
        _ => "Identity()",
    };

    /// <inheritdoc />
    public override void Dispose()
    {
        _output?.Dispose();
        _inputGrad?.Dispose();
        base.Dispose();
    }
}

/// <summary><c>y = max(x, 0)</c>, as <c>torch.nn.ReLU</c>.</summary>
public sealed class ReLU() : ActivationModule(ActivationKind.Relu);

/// <summary><c>y = tanh(x)</c>, as <c>torch.nn.Tanh</c>.</summary>
public sealed class Tanh() : ActivationModule(ActivationKind.Tanh);

/// <summary>
/// Dropout with keep probability <c>1 - p</c>. In training a fresh mask is drawn every forward call from the counter-based
/// generator keyed by (model seed, layer, call number); <see cref="DropoutMode.Inverted"/> (PyTorch's <c>nn.Dropout</c>)
/// scales kept units by <c>1/p_keep</c> in training and is the identity in evaluation, <see cref="DropoutMode.Standard"/>
/// keeps units unscaled in training and multiplies by <c>p_keep</c> in evaluation.
/// </summary>
public sealed class Dropout : Module
{
    private Tensor? _output, _mask, _inputGrad;
    private long _calls;

    /// <summary>Dropout that zeroes each unit with probability <paramref name="p"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is not in [0, 1).</exception>
    public Dropout(float p = 0.5f, DropoutMode mode = DropoutMode.Inverted)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "the drop probability must be in [0, 1).");
        P = p;
        Mode = mode;
    }

    /// <summary>The probability of dropping a unit.</summary>
    public float P { get; }

    /// <summary>Standard or inverted.</summary>
    public DropoutMode Mode { get; }

    /// <summary>The probability of keeping a unit.</summary>
    public float PKeep => 1f - P;

    /// <summary>The mask of the last training-mode forward (1 = kept), for tests and demonstrations.</summary>
    public Tensor? LastMask => _mask;

    /// <inheritdoc />
    public override int OutputFeatures(int inputFeatures) => inputFeatures;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        int rows = input.Dim(0), cols = input.Dim(1);
        var y = Buffer(ref _output, rows, cols);
        if (IsTraining && P > 0f)
        {
            var mask = Buffer(ref _mask, rows, cols);
            // Each layer has its own key, each call its own stream: masks never repeat across steps or layers.
            ulong key = Seed ^ (0x9E3779B97F4A7C15UL * (ulong)(Index + 1));
            Kernels.Dropout.GenerateMask(Device, mask.View, PKeep, key, (uint)_calls++);
            Kernels.Dropout.ForwardTrain(Device, Mode, input.View, mask.View, y.View, PKeep);
        }
        else
        {
            Kernels.Dropout.ForwardEval(Device, Mode, input.View, y.View, P > 0f ? PKeep : 1f);
        }
        return y;
    }

    /// <inheritdoc />
    public override Tensor? Backward(Tensor gradOutput, bool needInputGrad)
    {
        if (!needInputGrad) return null;
        int rows = gradOutput.Dim(0), cols = gradOutput.Dim(1);
        var dx = Buffer(ref _inputGrad, rows, cols);
        if (IsTraining && P > 0f)
        {
            // dx = dy·mask·scale is the training forward applied to dy: written, so no cleared buffer to accumulate into.
            Kernels.Dropout.ForwardTrain(Device, Mode, gradOutput.View, _mask!.Rows(0, rows).View, dx.View, PKeep);
        }
        else
        {
            // The evaluation forward is linear (a scale by p_keep or 1), so its backward is the same scale.
            Kernels.Dropout.ForwardEval(Device, Mode, gradOutput.View, dx.View, P > 0f ? PKeep : 1f);
        }
        return dx;
    }

    /// <inheritdoc />
    public override string ToString() => $"Dropout(p={P}{(Mode == DropoutMode.Standard ? ", standard" : "")})";

    /// <inheritdoc />
    public override void Dispose()
    {
        _output?.Dispose();
        _mask?.Dispose();
        _inputGrad?.Dispose();
        base.Dispose();
    }
}
