namespace GpuNet.Nn;

/// <summary>
/// Modules applied in order, as <c>torch.nn.Sequential</c>; owns the <see cref="ParameterStore"/> (all parameters in one
/// buffer, all gradients in another) and names parameters as PyTorch does (<c>0.weight</c>, <c>0.bias</c>, <c>2.weight</c>).
/// </summary>
public sealed class Sequential : IDisposable
{
    private readonly Module[] _modules;
    private readonly Tensor?[] _outputs;

    /// <summary>Builds the model on <paramref name="device"/> and initialises its parameters from <paramref name="seed"/>.</summary>
    /// <param name="device">Where parameters and activations live.</param>
    /// <param name="inputFeatures">Features of one input sample (784 for a flattened 28×28 image).</param>
    /// <param name="seed">Seed of the initialisation and of dropout masks.</param>
    /// <param name="modules">The layers, in order.</param>
    /// <exception cref="ArgumentException">Consecutive layers do not fit together, or there are none.</exception>
    public Sequential(Device device, int inputFeatures, ulong seed, params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (modules.Length == 0) throw new ArgumentException("a model needs at least one module.", nameof(modules));
        _modules = modules;
        _outputs = new Tensor?[modules.Length];
        _fused = new bool[modules.Length];
        Device = device;
        InputFeatures = inputFeatures;
        Seed = seed;
        int features = inputFeatures;
        var specs = new List<(string, ParameterSpec)>();
        for (int i = 0; i < modules.Length; i++)
        {
            modules[i].Attach(device, i, seed);
            features = modules[i].OutputFeatures(features);
            foreach (var spec in modules[i].ParameterSpecs) specs.Add((i.ToString(System.Globalization.CultureInfo.InvariantCulture), spec));
        }
        OutputFeatures = features;
        Parameters = new ParameterStore(device, specs, seed);
        for (int i = 0; i < modules.Length; i++)
        {
            string prefix = i.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".";
            modules[i].Bind(Parameters.Parameters.Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal))
                .OrderBy(p => Array.FindIndex(modules[i].ParameterSpecs.ToArray(), s => prefix + s.Name == p.Name)).ToList());
        }
    }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>Features of one input sample.</summary>
    public int InputFeatures { get; }

    /// <summary>Features of one output (the number of classes for a classifier).</summary>
    public int OutputFeatures { get; }

    /// <summary>The seed the parameters were initialised from.</summary>
    public ulong Seed { get; }

    /// <summary>The layers.</summary>
    public IReadOnlyList<Module> Modules => _modules;

    /// <summary>All parameters and gradients.</summary>
    public ParameterStore Parameters { get; }

    /// <summary>The number of parameters.</summary>
    public long ParameterCount => Parameters.Count;

    /// <summary>Training mode for every layer (dropout on).</summary>
    public void Train()
    {
        foreach (var m in _modules) m.Train(true);
    }

    /// <summary>Evaluation mode for every layer (dropout off).</summary>
    public void Eval()
    {
        foreach (var m in _modules) m.Train(false);
    }

    /// <summary>
    /// Runs the layers on a <c>[batch, InputFeatures]</c> batch; the result is owned by the last layer. On ILGPU devices a
    /// <see cref="Linear"/> layer followed by <see cref="ReLU"/> runs as one GEMM launch with the ReLU in its epilogue
    /// (the same values), unless <see cref="KeepOutput"/> asked for the Linear layer's own output.
    /// </summary>
    public Tensor Forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < _modules.Length; i++)
        {
            if (FusesWithNext(i))
            {
                x = ((Linear)_modules[i]).ForwardRelu(x);
                ((ActivationModule)_modules[i + 1]).FusedInto(x);
                _outputs[i] = null; // its own output (before the ReLU) was never written
                _fused[i] = true;
                _outputs[++i] = x;
                continue;
            }
            _fused[i] = false;
            _outputs[i] = x = _modules[i].Forward(x);
        }
        return x;
    }

    private readonly HashSet<int> _kept = [];
    private bool[] _fused = [];

    /// <summary>Tests set this (on their own thread) to run Linear and ReLU as two launches, as before the fusion.</summary>
    [ThreadStatic]
    internal static bool UnfusedRelu;

    private bool FusesWithNext(int i) =>
        !UnfusedRelu && !Linear.UnfusedBias && !Device.UsesHostEngine && i + 1 < _modules.Length && _modules[i] is Linear
        && _modules[i + 1] is ActivationModule { Kind: Kernels.ActivationKind.Relu } && !_kept.Contains(i);

    /// <summary>
    /// Keeps layer <paramref name="module"/>'s own output available to <see cref="OutputOf"/> after each
    /// <see cref="Forward"/>: a <see cref="Linear"/> layer followed by ReLU is then not fused with it (the fused launch never
    /// writes the values before the ReLU). Distillation calls it for its feature layers.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No layer has that index.</exception>
    public void KeepOutput(int module)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(module);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(module, _modules.Length);
        _kept.Add(module);
    }

    /// <summary>The number of features layer <paramref name="module"/> outputs per sample.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No layer has that index.</exception>
    public int OutputFeaturesOf(int module)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(module);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(module, _modules.Length);
        int features = InputFeatures;
        for (int i = 0; i <= module; i++) features = _modules[i].OutputFeatures(features);
        return features;
    }

    /// <summary>
    /// The output of layer <paramref name="module"/> in the last <see cref="Forward"/> (for example a hidden layer's features),
    /// a view owned by that layer and valid until its next call.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No layer has that index.</exception>
    /// <exception cref="InvalidOperationException">No forward pass has run yet, or the layer is a Linear layer whose
    /// ReLU was fused into it (call <see cref="KeepOutput"/> first).</exception>
    public Tensor OutputOf(int module)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(module);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(module, _modules.Length);
        if (_fused[module])
            throw new InvalidOperationException(
                $"layer {module} ({_modules[module]}) ran fused with the ReLU after it, so its own output was never written; " +
                $"call KeepOutput({module}) before Forward.");
        return _outputs[module] ?? throw new InvalidOperationException("OutputOf called before Forward.");
    }

    /// <summary>Back-propagates the gradient of the loss with respect to the output through every layer, accumulating
    /// parameter gradients. The input gradient of the first layer is computed and returned only when
    /// <paramref name="needInputGrad"/> (else null); it is owned by the first layer.</summary>
    public Tensor? Backward(Tensor gradOutput, bool needInputGrad = false) => BackwardCore(gradOutput, -1, null, needInputGrad);

    /// <summary>
    /// As <see cref="Backward(Tensor, bool)"/>, for a loss that also depends on the output of layer <paramref name="addAt"/>
    /// through another branch (a distillation projection of a hidden layer, say): <paramref name="addGradient"/>, the loss
    /// gradient that branch sends back, is added to the gradient arriving at that output from the layers above
    /// (<c>dL/dh = dL/dh|above + addGradient</c>) before back-propagating further. The sum is formed in place in the
    /// input-gradient buffer of layer <paramref name="addAt"/> + 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="addAt"/> is not a layer before the last (for the last
    /// layer, add to <paramref name="gradOutput"/> instead).</exception>
    /// <exception cref="ArgumentException"><paramref name="addGradient"/>'s shape is not that output's.</exception>
    public Tensor? Backward(Tensor gradOutput, int addAt, Tensor addGradient, bool needInputGrad = false)
    {
        ArgumentNullException.ThrowIfNull(addGradient);
        ArgumentOutOfRangeException.ThrowIfNegative(addAt);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(addAt, _modules.Length - 1);
        var output = OutputOf(addAt);
        if (!addGradient.Shape.SequenceEqual(output.Shape))
            throw new ArgumentException($"the added gradient is {addGradient.ShapeString}; layer {addAt}'s output is {output.ShapeString}.", nameof(addGradient));
        return BackwardCore(gradOutput, addAt, addGradient, needInputGrad);
    }

    private Tensor? BackwardCore(Tensor gradOutput, int addAt, Tensor? addGradient, bool needInputGrad)
    {
        var g = gradOutput;
        for (int i = _modules.Length - 1; i >= 0; i--)
        {
            if (i == addAt)
            {
                // g is layer i+1's input-gradient buffer: accumulate into it. The identity's backward is exactly g += add.
                Kernels.Activation.Backward(Device, Kernels.ActivationKind.Identity, g.View, g.View, addGradient!.View, g.View);
            }
            // Layers before the first parameterised one need no input gradient at all, unless the caller wants the model's.
            bool needInput = needInputGrad || (i > 0 && _modules.Take(i).Any(m => m.ParameterSpecs.Count > 0));
            var next = _modules[i].Backward(g, needInput);
            if (next is null) return null;
            g = next;
        }
        return needInputGrad ? g : null;
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGrad() => Parameters.ZeroGrad();

    /// <summary>The architecture in PyTorch's notation, one layer per line.</summary>
    public string Describe() =>
        "Sequential(\n" + string.Concat(_modules.Select((m, i) => $"  ({i}): {m}\n")) + ")";

    /// <inheritdoc />
    public override string ToString() => string.Join(" -> ", _modules.Select(m => m.ToString()));

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var m in _modules) m.Dispose();
        Parameters.Dispose();
    }
}
