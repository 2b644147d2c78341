using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// Fused row softmax + cross-entropy on a batch of logits <c>z</c>, row-major <c>[batch × classes]</c>, with hard labels
/// (<see cref="Forward"/>, <see cref="Backward"/>) or with a teacher's soft targets at a temperature for knowledge
/// distillation (<see cref="ForwardSoft"/>, <see cref="BackwardSoft"/>; Hinton, Vinyals and Dean 2015).
/// </summary>
/// <remarks>
/// <para>
/// Everything is computed from the logits in log-sum-exp form with the row maximum subtracted, so logits of ±1e4 (or
/// any finite magnitude) give finite, accurate results; softmax probabilities are never formed and then logged.
/// Backward recomputes the row maximum and normaliser from the logits instead of storing softmax in forward.
/// </para>
/// <para>
/// Labels are not checked on the host (that would need a round trip per batch; the data loader validates them once).
/// A label outside <c>[0, classes)</c> does not crash or read out of bounds: its row's loss is NaN (so the mean loss is
/// NaN), its row's gradient is NaN, and it never counts as correct.
/// </para>
/// <para>
/// On ILGPU devices one thread group handles one row (grid-stride over rows): the group's threads stride over the classes,
/// so loads are coalesced and a row of 1000 classes is spread over up to <c>Device.GroupSize</c> threads, and the row's
/// max, argmax and sums are folded in shared memory. The group is no wider than the row needs (rounded up to a warp),
/// so ten classes do not leave most of a 256-thread group idle. One thread per row would read rows with a stride of
/// <c>classes</c> floats (uncoalesced) and give a batch of 128 only 128 threads.
/// </para>
/// </remarks>
public static partial class SoftmaxCrossEntropy
{
    /// <summary>
    /// Hard-label forward. For each row <c>r</c>:
    /// <c>rowLoss[r] = logsumexp(z_r) - z_r[label_r] = (m_r - z_r[label_r]) + log Σ_c exp(z_r[c] - m_r)</c> with
    /// <c>m_r = max_c z_r[c]</c>; then <c>loss[0] = (1/batch)·Σ_r rowLoss[r]</c> and
    /// <c>correct[0] = |{ r : argmax_c z_r[c] = label_r }|</c> (first maximum on ties). All outputs are overwritten.
    /// A label outside <c>[0, classes)</c> gives <c>rowLoss[r] = NaN</c> (and so a NaN <c>loss[0]</c>) and is not correct.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="logits">Logits <c>z</c>, row-major <c>[batch × classes]</c>.</param>
    /// <param name="labels">Class index of each row, <c>batch</c> elements.</param>
    /// <param name="batch">Number of rows, at least 1.</param>
    /// <param name="classes">Number of classes, at least 1.</param>
    /// <param name="rowLoss">Output, <c>batch</c> elements: each row's loss.</param>
    /// <param name="loss">Output, one element: the mean loss.</param>
    /// <param name="correct">Output, one element: the number of rows predicted correctly.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="classes"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Forward(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> rowLoss, ArrayView<float> loss, ArrayView<int> correct)
    {
        CheckLogits(device, logits, batch, classes, nameof(logits));
        CheckLabels(device, labels, batch);
        CheckLossOutputs(device, rowLoss, loss, batch);
        Check.Length(correct, 1, nameof(correct));
        Reduce.CheckDevice(device, correct, nameof(correct));
        if (device.UsesHostEngine)
        {
            ForwardHost(device, logits, labels, batch, classes, rowLoss, loss, correct);
            return;
        }
        ForwardIlgpu(device, logits, labels, batch, classes, rowLoss, correct);
        Reduce.MeanOrSum(device, rowLoss, loss, 1f / batch);
    }

    /// <summary>
    /// Hard-label backward: accumulates the gradient of <c>scale · loss</c> (the mean loss of <see cref="Forward"/>),
    /// <c>dlogits[r·classes + c] += scale · (softmax(z_r)[c] - [c = label_r]) / batch</c>,
    /// where <c>softmax(z_r)[c] = exp(z_r[c] - m_r) / Σ_k exp(z_r[k] - m_r)</c>. A label outside <c>[0, classes)</c>
    /// adds NaN to its row.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="logits">Logits <c>z</c>, row-major <c>[batch × classes]</c>.</param>
    /// <param name="labels">Class index of each row, <c>batch</c> elements.</param>
    /// <param name="batch">Number of rows, at least 1.</param>
    /// <param name="classes">Number of classes, at least 1.</param>
    /// <param name="dlogits">Gradient, row-major <c>[batch × classes]</c>, accumulated into.</param>
    /// <param name="scale">Weight of this loss (for example in a sum of losses); finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="classes"/> is not positive, or <paramref name="scale"/> is not finite.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Backward(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> dlogits, float scale = 1f)
    {
        CheckLogits(device, logits, batch, classes, nameof(logits));
        CheckLabels(device, labels, batch);
        CheckLogits(device, dlogits, batch, classes, nameof(dlogits));
        Check.Finite(scale, nameof(scale));
        float coefficient = scale / batch;
        if (device.UsesHostEngine) BackwardHost(device, logits, labels, batch, classes, dlogits, coefficient);
        else BackwardIlgpu(device, logits, labels, batch, classes, dlogits, coefficient);
    }

    /// <summary>
    /// <see cref="Forward"/> and <see cref="Backward"/> in one call, for a training step: writes <c>rowLoss</c>,
    /// <c>loss[0]</c> and <c>correct[0]</c> as <see cref="Forward"/> does and <em>writes</em> (does not accumulate)
    /// <c>dlogits[r·classes + c] = scale · (softmax(z_r)[c] - [c = label_r]) / batch</c>. On CUDA and the CPU accelerators,
    /// for up to 1,024 classes and a batch that one group's warps take (1,024 rows in a 256-thread group), it is one launch
    /// that computes each row's max and sum once for both; elsewhere (the host engine, OpenCL, larger batches) it runs the
    /// two ops. A label outside <c>[0, classes)</c> gives NaN in its row's loss and gradient, as the separate ops do.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="logits">Logits <c>z</c>, row-major <c>[batch × classes]</c>.</param>
    /// <param name="labels">Class index of each row, <c>batch</c> elements.</param>
    /// <param name="batch">Number of rows, at least 1.</param>
    /// <param name="classes">Number of classes, at least 1.</param>
    /// <param name="rowLoss">Output, <c>batch</c> elements: each row's loss.</param>
    /// <param name="loss">Output, one element: the mean loss.</param>
    /// <param name="correct">Output, one element: the number of rows predicted correctly.</param>
    /// <param name="dlogits">Output, row-major <c>[batch × classes]</c>: the gradient of <c>scale · loss</c>; must not
    /// overlap <paramref name="logits"/>.</param>
    /// <param name="scale">Weight of this loss; finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="classes"/> is not positive, or <paramref name="scale"/> is not finite.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void ForwardBackward(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> rowLoss, ArrayView<float> loss, ArrayView<int> correct, ArrayView<float> dlogits, float scale = 1f)
    {
        CheckLogits(device, logits, batch, classes, nameof(logits));
        CheckLabels(device, labels, batch);
        CheckLossOutputs(device, rowLoss, loss, batch);
        Check.Length(correct, 1, nameof(correct));
        Reduce.CheckDevice(device, correct, nameof(correct));
        CheckLogits(device, dlogits, batch, classes, nameof(dlogits));
        Check.Finite(scale, nameof(scale));
        float coefficient = scale / batch;
        if (device.UsesHostEngine)
        {
            ForwardHost(device, logits, labels, batch, classes, rowLoss, loss, correct);
            device.Clear(dlogits);
            BackwardHost(device, logits, labels, batch, classes, dlogits, coefficient);
            return;
        }
        if (FusesForwardBackward(device, batch, classes))
        {
            ForwardBackwardFused(device, logits, labels, batch, classes, rowLoss, loss, correct, dlogits, coefficient);
            return;
        }
        ForwardIlgpu(device, logits, labels, batch, classes, rowLoss, correct);
        Reduce.MeanOrSum(device, rowLoss, loss, 1f / batch);
        device.Clear(dlogits);
        BackwardIlgpu(device, logits, labels, batch, classes, dlogits, coefficient);
    }

    /// <summary>
    /// Soft-target (distillation) forward at temperature <c>T</c>, with student logits <c>s</c> and teacher logits <c>t</c>:
    /// <c>q_r = softmax(t_r / T)</c>, <c>p_r = softmax(s_r / T)</c>,
    /// <c>rowLoss[r] = T² · Σ_c -q_r[c] · log p_r[c]</c> (the cross-entropy of the student's softened distribution against
    /// the teacher's, scaled by <c>T²</c> as Hinton et al. recommend so that gradient magnitudes do not shrink as
    /// <c>1/T²</c>), and <c>loss[0] = (1/batch)·Σ_r rowLoss[r]</c>. It is computed as
    /// <c>T² · (log Σ_c exp(s_r[c]/T - M_s) - Σ_c q_r[c]·(s_r[c]/T - M_s))</c> with <c>M_s = max_c s_r[c] / T</c>, so
    /// <c>q_r[c] = 0</c> never meets <c>log 0</c>. The teacher receives no gradient. Outputs are overwritten.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="studentLogits">Student logits <c>s</c>, row-major <c>[batch × classes]</c>.</param>
    /// <param name="teacherLogits">Teacher logits <c>t</c>, row-major <c>[batch × classes]</c>.</param>
    /// <param name="batch">Number of rows, at least 1.</param>
    /// <param name="classes">Number of classes, at least 1.</param>
    /// <param name="temperature">The temperature <c>T</c>, finite and positive.</param>
    /// <param name="rowLoss">Output, <c>batch</c> elements: each row's loss.</param>
    /// <param name="loss">Output, one element: the mean loss.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="classes"/> is not positive, or <paramref name="temperature"/> is not finite and positive.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void ForwardSoft(Device device, ArrayView<float> studentLogits, ArrayView<float> teacherLogits, int batch, int classes,
        float temperature, ArrayView<float> rowLoss, ArrayView<float> loss)
    {
        CheckLogits(device, studentLogits, batch, classes, nameof(studentLogits));
        CheckLogits(device, teacherLogits, batch, classes, nameof(teacherLogits));
        CheckTemperature(temperature);
        CheckLossOutputs(device, rowLoss, loss, batch);
        if (device.UsesHostEngine)
        {
            ForwardSoftHost(device, studentLogits, teacherLogits, batch, classes, temperature, rowLoss, loss);
            return;
        }
        ForwardSoftIlgpu(device, studentLogits, teacherLogits, batch, classes, temperature, rowLoss);
        Reduce.MeanOrSum(device, rowLoss, loss, 1f / batch);
    }

    /// <summary>
    /// Soft-target backward: accumulates the exact gradient of <c>scale · loss</c> (the mean loss of
    /// <see cref="ForwardSoft"/>) with respect to the student logits,
    /// <c>dlogits[r·classes + c] += scale · T · (p_r[c] - q_r[c]) / batch</c>
    /// (<c>∂/∂s (T²·Σ -q·log softmax(s/T)) = T·(p - q)</c>).
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="studentLogits">Student logits <c>s</c>, row-major <c>[batch × classes]</c>.</param>
    /// <param name="teacherLogits">Teacher logits <c>t</c>, row-major <c>[batch × classes]</c>.</param>
    /// <param name="batch">Number of rows, at least 1.</param>
    /// <param name="classes">Number of classes, at least 1.</param>
    /// <param name="temperature">The temperature <c>T</c>, finite and positive.</param>
    /// <param name="dlogits">Gradient with respect to the student logits, row-major <c>[batch × classes]</c>, accumulated into.</param>
    /// <param name="scale">Weight of this loss (for example <c>α</c> in <c>α·soft + (1-α)·hard</c>); finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="classes"/> is not positive, or <paramref name="temperature"/> or <paramref name="scale"/> is out of range.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void BackwardSoft(Device device, ArrayView<float> studentLogits, ArrayView<float> teacherLogits, int batch, int classes,
        float temperature, ArrayView<float> dlogits, float scale = 1f)
    {
        CheckLogits(device, studentLogits, batch, classes, nameof(studentLogits));
        CheckLogits(device, teacherLogits, batch, classes, nameof(teacherLogits));
        CheckLogits(device, dlogits, batch, classes, nameof(dlogits));
        CheckTemperature(temperature);
        Check.Finite(scale, nameof(scale));
        float coefficient = scale * temperature / batch;
        if (device.UsesHostEngine) BackwardSoftHost(device, studentLogits, teacherLogits, batch, classes, temperature, dlogits, coefficient);
        else BackwardSoftIlgpu(device, studentLogits, teacherLogits, batch, classes, temperature, dlogits, coefficient);
    }

    private static void CheckLogits(Device device, ArrayView<float> view, int batch, int classes, string name)
    {
        Check.Positive(batch, nameof(batch));
        Check.Positive(classes, nameof(classes));
        Check.Length(view, (long)batch * classes, name);
        Check.Device(device, view, name);
    }

    private static void CheckLabels(Device device, ArrayView<int> labels, int batch)
    {
        Check.Length(labels, batch, nameof(labels));
        Reduce.CheckDevice(device, labels, nameof(labels));
    }

    private static void CheckLossOutputs(Device device, ArrayView<float> rowLoss, ArrayView<float> loss, int batch)
    {
        Check.Length(rowLoss, batch, nameof(rowLoss));
        Check.Length(loss, 1, nameof(loss));
        Check.Device(device, rowLoss, nameof(rowLoss));
        Check.Device(device, loss, nameof(loss));
    }

    private static void CheckTemperature(float temperature)
    {
        if (!float.IsFinite(temperature) || temperature <= 0f)
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be finite and positive.");
    }
}
