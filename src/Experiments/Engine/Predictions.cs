using GpuNet.Data;
using GpuNet.Nn;

namespace GpuNet.Experiments.Training;

/// <summary>One image's prediction.</summary>
/// <param name="Index">The image's index in its set.</param>
/// <param name="Label">The true class.</param>
/// <param name="Predicted">The class with the largest logit.</param>
/// <param name="Confidence">The softmax probability of <paramref name="Predicted"/>.</param>
/// <param name="Pixels">The image, values in [0, 1].</param>
public sealed record Prediction(int Index, int Label, int Predicted, double Confidence, float[] Pixels)
{
    /// <summary>True when the prediction is the label.</summary>
    public bool Correct => Label == Predicted;
}

/// <summary>Runs a classifier on chosen images and reads its answers back.</summary>
public static class Predictions
{
    /// <summary>The model's predictions (evaluation mode) for <paramref name="indices"/> of <paramref name="images"/>.</summary>
    public static IReadOnlyList<Prediction> Of(Sequential model, DeviceImages images, int[] indices, Normalization normalization)
    {
        model.Eval();
        using var loader = CourseData.EvalLoader(images, indices, normalization);
        var result = new List<Prediction>();
        foreach (var batch in loader.Epoch(0))
        {
            var logits = model.Forward(batch.Images).ToArray();
            int classes = model.OutputFeatures;
            for (int r = 0; r < batch.Size; r++)
            {
                var row = logits.AsSpan(r * classes, classes);
                int best = 0;
                for (int c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
                double sum = 0;
                foreach (float v in row) sum += Math.Exp(v - row[best]);
                int index = indices[batch.Index * loader.Options.BatchSize + r];
                var pixels = images.Source.Image(index).ToArray().Select(b => b / 255f).ToArray();
                result.Add(new Prediction(index, images.Source.Labels[index], best, 1 / sum, pixels));
            }
        }
        return result;
    }
}
