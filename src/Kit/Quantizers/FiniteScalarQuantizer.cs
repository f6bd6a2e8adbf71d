// Finite scalar quantization (FSQ, Mentzer et al. 2024): each dimension is bounded and rounded to one of
// L_i levels; the codebook is the product of the levels, implicit, with nothing to learn and no collapse.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Quantizers;

/// <summary>Bounded rounding to a fixed number of levels per dimension.</summary>
public sealed class FiniteScalarQuantizer : Quantizer
{
    readonly long[] _levels;
    readonly long[] _basis;

    /// <param name="levels">Levels per dimension, e.g. [8, 5, 5, 5] (1,000 codes) or [8, 8, 8, 5, 5, 5] (64,000 codes).</param>
    public FiniteScalarQuantizer(IReadOnlyList<int> levels)
        : base(nameof(FiniteScalarQuantizer), levels.Count, levels.Aggregate(1L, (a, l) => a * CheckLevel(l)))
    {
        _levels = levels.Select(l => (long)l).ToArray();
        _basis = new long[_levels.Length];
        long b = 1;
        for (int i = 0; i < _levels.Length; i++) { _basis[i] = b; b *= _levels[i]; }
        RegisterComponents();
    }

    static int CheckLevel(int l) => l >= 2 ? l : throw new ArgumentOutOfRangeException(nameof(l), l,
        "every dimension needs at least 2 levels");

    /// <summary>Levels per dimension.</summary>
    public IReadOnlyList<long> Levels => _levels;

    Tensor LevelTensor(Device device) => tensor(_levels.Select(l => (float)l).ToArray(), device: device);

    protected override FlatQuantization QuantizeFlat(Tensor z)
    {
        var levels = LevelTensor(z.device);
        var half = (levels - 1) / 2;
        // Even level counts sit between integers: shift by half a step so rounding yields exactly L values.
        var offset = where(levels.remainder(2) == 0, 0.5f, 0f);
        var shift = (offset / half).atanh();
        var bounded = (z + shift).tanh() * half - offset;
        var rounded = StraightThrough(bounded, bounded.round());
        var halfWidth = (levels / 2).floor();
        var quantized = rounded / halfWidth;                         // in [−1, 1]
        var digits = (rounded.detach() + halfWidth).to(int64);       // 0 .. L−1 per dimension
        var indices = (digits * tensor(_basis, device: z.device)).sum(1);
        var none = zeros(1, device: z.device).squeeze();
        return new FlatQuantization(quantized, indices, none, new Dictionary<string, Tensor>());
    }

    protected override Tensor LookupFlat(Tensor indices)
    {
        var levels = tensor(_levels, device: indices.device);
        var digits = indices.unsqueeze(1).div(tensor(_basis, device: indices.device), rounding_mode: RoundingMode.floor).remainder(levels);
        var halfWidth = (levels / 2).to(float32).floor();
        return (digits.to(float32) - halfWidth) / halfWidth;
    }
}
