// Lookup-free quantization (MAGVIT-v2, Yu et al. 2024): the code dimension shrinks to zero — each of the
// `bits` feature dimensions is its own two-value codebook {−1, +1}, the codebook is their product (K = 2^bits)
// and quantization is sign(), with no distance computation. An entropy penalty keeps assignments confident
// (low per-sample entropy) and the codebook evenly used (high codebook entropy).
//
// Bit order: LSB first. Dimension i carries bit i: index = Σ_i 2^i · 1[z_i > 0], so [−1, +1, −1] → 2
// (Open-MAGVIT2's order; vector-quantize-pytorch numbers MSB first).
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Quantizers;

/// <summary>Sign quantization over <c>bits</c> dimensions with MAGVIT-v2's entropy penalty.</summary>
public sealed class LookupFreeQuantizer : Quantizer
{
    /// <param name="bits">Feature dimension = log2 of the vocabulary (K = 2^bits, up to 2^30).</param>
    /// <param name="commitmentWeight">Weight of ‖z − sg(q)‖² (MAGVIT-v2 recipe: 0.25).</param>
    /// <param name="entropyWeight">Weight of the entropy penalty (recipe: 0.1, smaller on toy setups; annealable).</param>
    /// <param name="diversityGamma">γ in E[H(p(c|z))] − γ·H(E[p(c|z)]).</param>
    /// <param name="temperature">τ in p(c|z) ∝ exp(−‖z − c‖²/τ) (Open-MAGVIT2 uses 0.01).</param>
    /// <param name="groupBits">Bits per sub-codebook for the codebook entropy; null = exact when bits ≤ 10, else equal groups of ≤ 9 bits
    /// (exact at 2^12 costs a 4,096 × 4,096 matrix per 4,096 tokens — seconds per training step on a CPU).</param>
    /// <param name="spherical">BSQ variant: features l2-normalised, codes ±1/√bits.</param>
    public LookupFreeQuantizer(int bits, double commitmentWeight = 0.25, double entropyWeight = 0.1, double diversityGamma = 1.0,
        double temperature = 0.01, int? groupBits = null, bool spherical = false)
        : base(nameof(LookupFreeQuantizer), bits, 1L << CheckBits(bits))
    {
        if (temperature <= 0) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "expected τ > 0");
        int g = groupBits ?? (bits <= 10 ? bits : (int)Math.Ceiling(bits / Math.Ceiling(bits / 9.0)));
        if (g < 1 || g > Math.Min(bits, 16)) throw new ArgumentOutOfRangeException(nameof(groupBits), groupBits,
            $"expected 1..{Math.Min(bits, 16)} bits per group");
        Bits = bits; CommitmentWeight = commitmentWeight; EntropyWeight = entropyWeight; DiversityGamma = diversityGamma;
        Temperature = temperature; GroupBits = g; Spherical = spherical;
        RegisterComponents();
    }

    static int CheckBits(int bits) => bits is >= 1 and <= 30 ? bits
        : throw new ArgumentOutOfRangeException(nameof(bits), bits, "expected 1–30 bits (a vocabulary of 2 to 2^30 codes)");

    public int Bits { get; }
    /// <summary>Annealable: the trainer's schedule may change it between steps.</summary>
    public double CommitmentWeight { get; set; }
    /// <summary>The entropy penalty's weight (a schedule anneals it through <see cref="Quantizer.RegularizerScale"/>).</summary>
    public double EntropyWeight { get; set; }
    public double DiversityGamma { get; set; }
    public double Temperature { get; }
    public int GroupBits { get; }
    public bool Spherical { get; }
    /// <summary>Magnitude of a code's coordinates: 1, or 1/√bits for the spherical variant.</summary>
    public double CodeScale => Spherical ? 1 / Math.Sqrt(Bits) : 1;

    protected override FlatQuantization QuantizeFlat(Tensor features)
    {
        var z = Spherical ? F.normalize(features, dim: 1) : features;
        var positive = z > 0;
        var codes = where(positive, CodeScale, -CodeScale).to(z.dtype);
        var indices = BitsToIndex(positive);
        var parts = new Dictionary<string, Tensor>();
        var commitment = F.mse_loss(z, codes);
        var aux = commitment * CommitmentWeight;
        parts["commitment"] = commitment.detach();
        if (EntropyWeight > 0 || !training)
        {
            var (sample, codebook) = Entropies(z);
            parts["entropy_sample"] = sample.detach();
            parts["entropy_codebook"] = codebook.detach();
            if (EntropyWeight > 0) aux = aux + (sample - DiversityGamma * codebook) * (EntropyWeight * RegularizerScale);
        }
        return new FlatQuantization(StraightThrough(z, codes), indices, aux, parts);
    }

    protected override Tensor LookupFlat(Tensor indices) => IndexToBits(indices, Bits).to(float32) * (2 * CodeScale) - CodeScale;

    /// <summary>Per-bit probability p(bit_i = +1 | z) = sigmoid(4·s·z_i/τ), s the code scale.</summary>
    public Tensor BitProbabilities(Tensor z) => (z * (4 * CodeScale / Temperature)).sigmoid();

    /// <summary>
    /// Mean per-sample entropy E_z[H(p(c|z))] — exact in O(bits) because p(c|z) factorises into independent
    /// bits — and the codebook entropy H(E_z[p(c|z)]), exact over one group or summed over groups of
    /// <see cref="GroupBits"/> bits (an upper bound on the exact value: Σ marginal entropies ≥ joint entropy).
    /// </summary>
    public (Tensor Sample, Tensor Codebook) Entropies(Tensor z)
    {
        var logits = (z * (4 * CodeScale / Temperature)).clamp(-LogitBound, LogitBound);
        var logP = F.logsigmoid(logits);    // log p(bit = +1)
        var logQ = F.logsigmoid(-logits);   // log p(bit = −1)
        var sample = -(logP.exp() * logP + logQ.exp() * logQ).sum(1).mean();
        Tensor codebook = zeros(1, dtype: z.dtype, device: z.device).squeeze();
        for (int start = 0; start < Bits; start += GroupBits)
        {
            int g = Math.Min(GroupBits, Bits - start);
            codebook = codebook + CodebookEntropy(logP.narrow(1, start, g), logQ.narrow(1, start, g));
        }
        return (sample, codebook);
    }

    // At the recipe's τ = 0.01 most bit logits are in the hundreds. libtorch's CPU exp leaves its vectorised path for
    // arguments below float32's normal range (≈ −87.3) and subnormal intermediates are slow on x86, which together made
    // these few small ops many times slower than their FLOPs. Bounding a logit at ±30 moves a bit's probability by less
    // than e^−30 ≈ 1e−13 (σ(30) is 1 in float32) and each entropy by under 1e−10 nats; flooring a half's code
    // log-probability at −43 keeps every product of two halves (≥ e^−86) a normal float32 and moves a code's batch mean
    // by under e^−43. Through a bound or a floor the gradient is zero where the exact one is of order e^−30 or less.
    const double LogitBound = 30, HalfLogProbabilityFloor = -43;

    // H of the batch-averaged distribution over the 2^g codes of one group. p(c|z) factorises over bits, so split the
    // group's bits into a low half a and a high half b: p(c|z) = p_a(c_a|z) · p_b(c_b|z), and the batch mean
    // E_z[p(c|z)] = P_bᵀ P_a / M, with P_a [M, 2^|a|] and P_b [M, 2^|b|] each from one small product (log p(c|z) over a
    // half's codes = Σ_i log q_i + Σ_i b_i (log p_i − log q_i)). The same values as forming all M × 2^g probabilities,
    // in M × (2^|a| + 2^|b|) memory and one [2^|b|, M] × [M, 2^|a|] product: at 9 bits, 4,096 × 48 values instead of
    // 4,096 × 512. Entry (c_b, c_a) of the product is code c_a + 2^|a| c_b, the LSB-first index.
    static Tensor CodebookEntropy(Tensor logP, Tensor logQ)
    {
        int g = (int)logP.shape[1], low = g / 2;
        var pa = HalfCodeProbs(logP.narrow(1, 0, low), logQ.narrow(1, 0, low));             // [M, 2^low]
        var pb = HalfCodeProbs(logP.narrow(1, low, g - low), logQ.narrow(1, low, g - low)); // [M, 2^(g−low)]
        var mean = pb.t().MatmulChecked(pa).div(logP.shape[0]).flatten();                             // [2^g], index c_a + 2^low c_b
        return -(mean * (mean + 1e-12).log()).sum();
    }

    // p(c|z) for every code c of a few bits [M, 2^bits] (a column of ones for no bits).
    static Tensor HalfCodeProbs(Tensor logP, Tensor logQ)
    {
        int g = (int)logP.shape[1];
        if (g == 0) return ones(logP.shape[0], 1, dtype: logP.dtype, device: logP.device);
        var bits = IndexToBits(arange(1L << g, device: logP.device), g).to(logP.dtype); // [2^g, g]
        return ((logP - logQ).MatmulChecked(bits.t()) + logQ.sum(1, keepdim: true)).clamp_min(HalfLogProbabilityFloor).exp();
    }

    /// <summary>Index of each row of booleans (or ±1 / 0-1 values with "positive" meaning set) [..., bits], LSB first.</summary>
    public static Tensor BitsToIndex(Tensor positive)
    {
        int bits = (int)positive.shape[^1];
        var weights = (ones(bits, dtype: int64, device: positive.device) * 2).pow(arange(bits, dtype: int64, device: positive.device));
        return (positive.to(int64) * weights).sum(-1);
    }

    /// <summary>Bits (0/1, int64) of each index, LSB first: [...] → [..., bits].</summary>
    public static Tensor IndexToBits(Tensor indices, int bits)
    {
        var shifts = arange(bits, dtype: int64, device: indices.device);
        return indices.to(int64).unsqueeze(-1).bitwise_right_shift(shifts).bitwise_and(1);
    }

    /// <summary>
    /// Token factorization (MAGVIT-v2): splits indices into sub-codebook indices of <paramref name="groupBits"/>
    /// bits each, LSB group first — e.g. 2^18 as [9, 9] or Open-MAGVIT2's asymmetric [6, 12].
    /// </summary>
    public static Tensor[] Factorize(Tensor indices, IReadOnlyList<int> groupBits)
    {
        var result = new Tensor[groupBits.Count];
        int shift = 0;
        for (int i = 0; i < groupBits.Count; i++)
        {
            result[i] = indices.to(int64).bitwise_right_shift(shift).bitwise_and((1L << groupBits[i]) - 1);
            shift += groupBits[i];
        }
        return result;
    }

    /// <summary>The inverse of <see cref="Factorize"/>.</summary>
    public static Tensor Combine(IReadOnlyList<Tensor> parts, IReadOnlyList<int> groupBits)
    {
        if (parts.Count != groupBits.Count) throw new ArgumentException($"{parts.Count} parts for {groupBits.Count} groups.",
            nameof(parts));
        var result = zeros_like(parts[0], dtype: int64);
        int shift = 0;
        for (int i = 0; i < parts.Count; i++) { result = result + parts[i].to(int64).bitwise_left_shift(shift); shift += groupBits[i]; }
        return result;
    }
}
