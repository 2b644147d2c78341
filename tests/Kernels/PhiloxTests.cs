using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

public class PhiloxTests
{
    // Known-answer vectors of philox4x32-10 from Random123's kat_vectors file: counter (4 words), key (2 words), output.
    public static TheoryData<uint[], uint[], uint[]> KnownAnswers() => new()
    {
        { [0u, 0u, 0u, 0u], [0u, 0u], [0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u] },
        { [0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu], [0xffffffffu, 0xffffffffu], [0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu] },
        { [0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u], [0xa4093822u, 0x299f31d0u], [0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u] },
    };

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void Generate_matches_the_Random123_known_answer_vectors(uint[] counter, uint[] key, uint[] expected)
    {
        var r = Philox.Generate(new PhiloxBlock(counter[0], counter[1], counter[2], counter[3]), key[0], key[1]);
        Assert.Equal(expected, new[] { r.X, r.Y, r.Z, r.W });
    }

    [Fact]
    public void Element_index_addresses_word_i_mod_4_of_the_block_of_quad_i_div_4()
    {
        const ulong seed = 0x0123456789ABCDEFul;
        const uint stream = 7;
        // Indices past 2^34 put bits into the counter's second word; the seed's high half goes to the second key word.
        foreach (ulong index in new ulong[] { 0, 1, 2, 3, 4, 1001, (1ul << 34) + 5, ulong.MaxValue })
        {
            ulong quad = index >> 2;
            var block = Philox.Generate(new PhiloxBlock((uint)quad, (uint)(quad >> 32), stream, 0), 0x89ABCDEFu, 0x01234567u);
            uint expected = (index & 3) switch { 0 => block.X, 1 => block.Y, 2 => block.Z, _ => block.W };
            Assert.Equal(expected, Philox.Random(seed, stream, index));
            Assert.Equal((expected >> 8) / 16777216.0, (double)Philox.Uniform(seed, stream, index));
        }
    }

    [Fact]
    public void Uniform_is_the_top_24_bits_scaled_into_0_1()
    {
        Assert.Equal(0f, Philox.ToUniform(0u));
        Assert.Equal(0f, Philox.ToUniform(0xFFu));
        Assert.Equal(0.5f, Philox.ToUniform(0x80000000u));
        Assert.Equal((float)(1 - Math.Pow(2, -24)), Philox.ToUniform(uint.MaxValue));
        Assert.True(Philox.ToUniform(uint.MaxValue) < 1f);
    }

    [Fact]
    public void Word_selects_by_index_modulo_4()
    {
        var b = new PhiloxBlock(10, 11, 12, 13);
        Assert.Equal([10u, 11u, 12u, 13u, 10u], new[] { b.Word(0), b.Word(1), b.Word(2), b.Word(3), b.Word(4) });
    }
}
