namespace GpuNet.Nn;

/// <summary>
/// Modules applied in order, as <c>torch.nn.Sequential</c>; owns the <see cref="ParameterStore"/> (all parameters in one
/// buffer, all gradients in another) and names parameters as PyTorch does (<c>0.weight</c>, <c>0.bias</c>, <c>2.weight</c>).
/// </summary>
public sealed class Sequential : IDisposable
{
    private readonly Module[] _modules;

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

    /// <summary>Runs the layers on a <c>[batch, InputFeatures]</c> batch; the result is owned by the last layer.</summary>
    public Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var m in _modules) x = m.Forward(x);
        return x;
    }

    /// <summary>Back-propagates the gradient of the loss with respect to the output through every layer, accumulating
    /// parameter gradients. The input gradient of the first layer is not computed.</summary>
    public void Backward(Tensor gradOutput)
    {
        var g = gradOutput;
        for (int i = _modules.Length - 1; i >= 0; i--)
        {
            // Layers before the first parameterised one need no input gradient at all.
            bool needInput = i > 0 && _modules.Take(i).Any(m => m.ParameterSpecs.Count > 0);
            var next = _modules[i].Backward(g, needInput);
            if (next is null) break;
            g = next;
        }
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
