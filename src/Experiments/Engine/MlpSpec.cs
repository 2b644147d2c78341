using System.Globalization;
using GpuNet.Data;
using GpuNet.Nn;

namespace GpuNet.Experiments.Training;

/// <summary>A ReLU MLP for 28x28 images: <c>784 - hidden... - 10</c>, with inverted dropout after each hidden ReLU when
/// <see cref="Dropout"/> is positive.</summary>
/// <param name="Hidden">The widths of the hidden layers.</param>
/// <param name="Dropout">The drop probability after each hidden layer (0: no dropout layers).</param>
public sealed record MlpSpec(int[] Hidden, float Dropout = 0)
{
    /// <summary>Builds the model on <paramref name="device"/>, initialised from <paramref name="seed"/>.</summary>
    public Sequential Build(Device device, ulong seed)
    {
        var modules = new List<Module>();
        int input = FashionMnist.Pixels;
        foreach (int h in Hidden)
        {
            modules.Add(new Linear(input, h));
            modules.Add(new ReLU());
            if (Dropout > 0) modules.Add(new Nn.Dropout(Dropout));
            input = h;
        }
        modules.Add(new Linear(input, FashionMnist.Classes));
        return new Sequential(device, FashionMnist.Pixels, seed, [.. modules]);
    }

    /// <summary><c>784-256-128-10</c>.</summary>
    public string Widths => string.Join("-", new[] { FashionMnist.Pixels }.Concat(Hidden).Append(FashionMnist.Classes));

    /// <inheritdoc />
    public override string ToString() =>
        Widths + " ReLU" + (Dropout > 0 ? string.Create(CultureInfo.InvariantCulture, $", dropout {Dropout:0.##}") : "");
}
