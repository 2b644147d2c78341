using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

[Collection("devices")]
public class GatherTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => DeviceFixture.Rows(DeviceFixture.SpecsWithGpuShapes);

    [Theory]
    [MemberData(nameof(Specs))]
    public void Rows_gathers_with_the_affine_map_against_a_float64_reference(string spec)
    {
        var device = devices.Get(spec);
        foreach (int rowLength in new[] { 1, 3, 17, 784 })
            foreach (int count in new[] { 1, 33, 127 })
            {
                const int rows = 50;
                var src = Data.Uniform(rows * rowLength, seed: rowLength + count, 0f, 1f);
                var indices = Data.Labels(count, rows, seed: count);
                using var s = Tensor.FromArray(device, src, src.Length);
                using var idx = IntBuffers.Upload(device, indices);
                using var d = Tensor.Zeros(device, count * rowLength);
                Gather.Rows(device, s.View, rowLength, idx.View, d.View, 1f / 0.35f, -0.29f / 0.35f);
                var expected = new double[count * rowLength];
                for (int r = 0; r < count; r++)
                    for (int j = 0; j < rowLength; j++)
                        expected[r * rowLength + j] = src[indices[r] * rowLength + j] * (double)(1f / 0.35f) + (-0.29f / 0.35f);
                Close.All(d.ToArray(), expected, 1e-6, 1e-6, $"{spec} rows {count}x{rowLength}");
            }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Values_gathers_labels_and_out_of_range_indices_do_not_read_out_of_bounds(string spec)
    {
        var device = devices.Get(spec);
        int[] src = [10, 11, 12, 13, 14];
        int[] indices = [4, 0, 0, 2, -1, 5, 3];
        using var s = IntBuffers.Upload(device, src);
        using var idx = IntBuffers.Upload(device, indices);
        using var d = IntBuffers.Filled(device, indices.Length, 99);
        Gather.Values(device, s.View, idx.View, d.View);
        Assert.Equal([14, 10, 10, 12, -1, -1, 13], IntBuffers.Download(device, d));

        using var rows = Tensor.FromArray(device, [1f, 2f, 3f, 4f], 4);
        using var idx2 = IntBuffers.Upload(device, [1, 2, -3]);
        using var dst = Tensor.Zeros(device, 6);
        Gather.Rows(device, rows.View, 2, idx2.View, dst.View);
        var got = dst.ToArray();
        Assert.Equal([3f, 4f], got[..2]);
        Assert.True(got[2..].All(float.IsNaN));
    }

    [Fact]
    public void Rows_checks_its_arguments()
    {
        var device = devices.Host;
        using var src = Tensor.Zeros(device, 10);
        using var idx = IntBuffers.Upload(device, [0, 1]);
        using var dst = Tensor.Zeros(device, 10);
        Assert.Throws<ArgumentException>(() => Gather.Rows(device, src.View, 3, idx.View, dst.View));     // 10 is not rows of 3
        Assert.Throws<ArgumentException>(() => Gather.Rows(device, src.View, 5, idx.View, dst.View.SubView(0, 9)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gather.Rows(device, src.View, 0, idx.View, dst.View));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gather.Rows(device, src.View, 5, idx.View, dst.View, float.NaN));
    }
}
