using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Kernels;

namespace GpuNet.Nn;

/// <summary>
/// A <see cref="Sequential"/> model's layers as JSON, in PyTorch's vocabulary, so a checkpoint says what network its
/// tensors belong to and the model can be rebuilt (here, or as a <c>torch.nn.Sequential</c>) from the file alone:
/// <c>{"input_features": 784, "layers": [{"type": "Linear", "in_features": 784, "out_features": 256, "bias": true},
/// {"type": "ReLU"}, {"type": "Dropout", "p": 0.5}, ...]}</c>. Layer <c>i</c>'s parameters are named <c>i.weight</c> and
/// <c>i.bias</c>, as in <c>nn.Sequential</c>.
/// </summary>
public static class Architecture
{
    /// <summary>The JSON description of <paramref name="model"/>'s layers (see the class remarks).</summary>
    /// <exception cref="NotSupportedException">A layer has no description (a module type this class does not know).</exception>
    public static string Describe(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = new JsonArray();
        foreach (var m in model.Modules) layers.Add(Layer(m));
        return new JsonObject { ["input_features"] = model.InputFeatures, ["layers"] = layers }.ToJsonString();
    }

    private static JsonObject Layer(Module m) => m switch
    {
        Linear l => new JsonObject { ["type"] = "Linear", ["in_features"] = l.InFeatures, ["out_features"] = l.OutFeatures, ["bias"] = l.HasBias },
        Dropout d => d.Mode == DropoutMode.Inverted
            ? new JsonObject { ["type"] = "Dropout", ["p"] = (double)(decimal)d.P }
            // Standard dropout scales by p_keep at evaluation; PyTorch has no such layer, so say what it does.
            : new JsonObject { ["type"] = "Dropout", ["p"] = (double)(decimal)d.P, ["mode"] = "standard" },
        ActivationModule a => a.Kind switch
        {
            ActivationKind.Relu => new JsonObject { ["type"] = "ReLU" },
            ActivationKind.Tanh => new JsonObject { ["type"] = "Tanh" },
            ActivationKind.Sigmoid => new JsonObject { ["type"] = "Sigmoid" },
            ActivationKind.LeakyRelu => new JsonObject { ["type"] = "LeakyReLU", ["negative_slope"] = (double)(decimal)a.Slope },
            _ => new JsonObject { ["type"] = "Identity" },
        },
        _ => throw new NotSupportedException($"no architecture description for {m}."),
    };

    /// <summary>Builds the model that <paramref name="json"/> (from <see cref="Describe"/>) describes, initialised from
    /// <paramref name="seed"/> (load a checkpoint's tensors into it afterwards).</summary>
    /// <exception cref="FormatException">The description is malformed or names an unknown layer; the message says which.</exception>
    public static Sequential Build(Device device, string json, ulong seed = 0)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json)?.AsObject() ?? throw new FormatException("the architecture is empty.");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FormatException($"the architecture is not a JSON object: {e.Message}", e);
        }
        int input;
        var modules = new List<Module>();
        try
        {
            input = root["input_features"]!.GetValue<int>();
            var layers = root["layers"]!.AsArray();
            for (int i = 0; i < layers.Count; i++) modules.Add(Layer(layers[i]!.AsObject(), i));
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or ArgumentException)
        {
            foreach (var m in modules) m.Dispose();
            throw new FormatException($"the architecture is malformed: {e.Message}", e);
        }
        try
        {
            return new Sequential(device, input, seed, [.. modules]);
        }
        catch (ArgumentException e)
        {
            foreach (var m in modules) m.Dispose();
            throw new FormatException($"the architecture's layers do not fit together: {e.Message}", e);
        }
    }

    private static Module Layer(JsonObject o, int index)
    {
        string type = o["type"]?.GetValue<string>() ?? throw new FormatException($"layer {index} has no type.");
        return type switch
        {
            "Linear" => new Linear(o["in_features"]!.GetValue<int>(), o["out_features"]!.GetValue<int>(), o["bias"]?.GetValue<bool>() ?? true),
            "ReLU" => new ReLU(),
            "Tanh" => new Tanh(),
            "Sigmoid" => new ActivationModule(ActivationKind.Sigmoid),
            "LeakyReLU" => new ActivationModule(ActivationKind.LeakyRelu, (float)(o["negative_slope"]?.GetValue<double>() ?? 0.01)),
            "Identity" => new ActivationModule(ActivationKind.Identity),
            "Dropout" => new Dropout((float)(o["p"]?.GetValue<double>() ?? 0.5),
                o["mode"]?.GetValue<string>() == "standard" ? DropoutMode.Standard : DropoutMode.Inverted),
            _ => throw new FormatException($"layer {index} has the unknown type '{type}'."),
        };
    }

    /// <summary>A short form such as <c>784-256-128-10 ReLU</c> for reports: the widths of the linear layers, then the
    /// activations and dropout used.</summary>
    public static string Summary(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var widths = new List<int> { model.InputFeatures };
        widths.AddRange(model.Modules.OfType<Linear>().Select(l => l.OutFeatures));
        var extras = model.Modules.Where(m => m is not Linear).Select(m => m is Dropout d
            ? string.Create(CultureInfo.InvariantCulture, $"dropout {d.P:0.##}") : m.ToString().EndsWith("()", StringComparison.Ordinal) ? m.ToString()[..^2] : m.ToString()).Distinct();
        return string.Join("-", widths) + " " + string.Join(", ", extras);
    }
}
