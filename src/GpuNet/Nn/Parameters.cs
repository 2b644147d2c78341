using ILGPU;

namespace GpuNet.Nn;

/// <summary>How a parameter is initialised.</summary>
public enum Init
{
    /// <summary>All zeros.</summary>
    Zeros,
    /// <summary><c>U(-b, b)</c> with <c>b = 1/sqrt(fanIn)</c>: PyTorch's default for <c>nn.Linear</c> (Kaiming-uniform with
    /// a = sqrt(5) for the weight, and the same bound for the bias).</summary>
    UniformFanIn,
}

/// <summary>A parameter a module asks for: its PyTorch-style name within the module, shape and initialisation.</summary>
/// <param name="Name">The local name, e.g. <c>weight</c>.</param>
/// <param name="Shape">Row-major shape; a weight is <c>[out, in]</c> as in PyTorch.</param>
/// <param name="Init">How to initialise it.</param>
/// <param name="FanIn">The fan-in used by <see cref="Init.UniformFanIn"/>.</param>
/// <param name="IsWeight">True for weights (L1/L2 penalties apply), false for biases.</param>
public sealed record ParameterSpec(string Name, int[] Shape, Init Init, int FanIn, bool IsWeight);

/// <summary>One parameter of a model: a named view into the model's flat parameter buffer and the matching gradient view.</summary>
public sealed class Parameter
{
    internal Parameter(string name, int[] shape, long offset, Tensor value, Tensor grad, bool isWeight)
    {
        Name = name;
        Shape = shape;
        Offset = offset;
        Value = value;
        Grad = grad;
        IsWeight = isWeight;
    }

    /// <summary>The full PyTorch-style name, e.g. <c>0.weight</c>.</summary>
    public string Name { get; }

    /// <summary>The shape.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Offset in floats inside the flat parameter buffer.</summary>
    public long Offset { get; }

    /// <summary>The values: a view into the flat parameter buffer.</summary>
    public Tensor Value { get; }

    /// <summary>The gradient: a view into the flat gradient buffer, same layout.</summary>
    public Tensor Grad { get; }

    /// <summary>True for weights (penalties apply), false for biases.</summary>
    public bool IsWeight { get; }

    /// <summary>The number of elements.</summary>
    public long Length => Value.Length;
}

/// <summary>
/// All parameters of a model in one flat device buffer and all gradients in another, with the same layout: every weight
/// first, then every bias, so that penalties on weights act on one contiguous range and each optimizer step is one launch.
/// </summary>
public sealed class ParameterStore : IDisposable
{
    private readonly List<Parameter> _parameters = [];

    internal ParameterStore(Device device, IReadOnlyList<(string Prefix, ParameterSpec Spec)> specs, ulong seed)
    {
        Device = device;
        var ordered = specs.Where(s => s.Spec.IsWeight).Concat(specs.Where(s => !s.Spec.IsWeight)).ToList();
        long total = 0, weights = 0;
        foreach (var (_, spec) in ordered)
        {
            long n = spec.Shape.Aggregate(1L, (a, d) => a * d);
            total += n;
            if (spec.IsWeight) weights += n;
        }
        Values = Tensor.Zeros(device, checked((int)total));
        Grads = Tensor.Zeros(device, checked((int)total));
        WeightCount = weights;

        var init = new float[total];
        long offset = 0;
        // Parameters are initialised in declaration order, each from its own Philox stream, so adding a layer at the end
        // does not change the initial values of the others.
        for (int i = 0; i < specs.Count; i++)
        {
            var (prefix, spec) = specs[i];
            long at = 0;
            foreach (var o in ordered)
            {
                if (ReferenceEquals(o.Spec, spec)) break;
                at += o.Spec.Shape.Aggregate(1L, (a, d) => a * d);
            }
            long n = spec.Shape.Aggregate(1L, (a, d) => a * d);
            if (spec.Init == Init.UniformFanIn)
            {
                double bound = 1.0 / Math.Sqrt(Math.Max(1, spec.FanIn));
                for (long j = 0; j < n; j++)
                    init[at + j] = (float)((2 * Kernels.Philox.Uniform(seed, (uint)i, (ulong)j) - 1) * bound);
            }
        }
        Values.CopyFrom(init);

        foreach (var (prefix, spec) in ordered)
        {
            int n = spec.Shape.Aggregate(1, (a, d) => a * d);
            var value = Values.Rows((int)offset, n).Reshape(spec.Shape);
            var grad = Grads.Rows((int)offset, n).Reshape(spec.Shape);
            _parameters.Add(new Parameter(prefix.Length == 0 ? spec.Name : $"{prefix}.{spec.Name}", (int[])spec.Shape.Clone(), offset, value, grad, spec.IsWeight));
            offset += n;
        }
    }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>Every parameter value, flat.</summary>
    public Tensor Values { get; }

    /// <summary>Every gradient, flat, in the layout of <see cref="Values"/>.</summary>
    public Tensor Grads { get; }

    /// <summary>The number of weight elements: weights occupy <c>[0, WeightCount)</c> of the flat buffers.</summary>
    public long WeightCount { get; }

    /// <summary>The total number of parameter elements.</summary>
    public long Count => Values.Length;

    /// <summary>The parameters, weights first.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>The weight range of the value buffer.</summary>
    public ArrayView<float> WeightValues => Values.View.SubView(0, WeightCount);

    /// <summary>The weight range of the gradient buffer.</summary>
    public ArrayView<float> WeightGrads => Grads.View.SubView(0, WeightCount);

    /// <summary>The bias range of the value buffer.</summary>
    public ArrayView<float> BiasValues => Values.View.SubView(WeightCount, Count - WeightCount);

    /// <summary>The bias range of the gradient buffer.</summary>
    public ArrayView<float> BiasGrads => Grads.View.SubView(WeightCount, Count - WeightCount);

    /// <summary>The parameter with this name.</summary>
    /// <exception cref="KeyNotFoundException">No parameter has that name.</exception>
    public Parameter this[string name] =>
        _parameters.FirstOrDefault(p => p.Name == name) ?? throw new KeyNotFoundException($"no parameter named '{name}'.");

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGrad() => Grads.Clear();

    /// <inheritdoc />
    public void Dispose()
    {
        Values.Dispose();
        Grads.Dispose();
    }
}
