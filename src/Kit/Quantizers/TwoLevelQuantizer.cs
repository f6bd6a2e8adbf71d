// UniCode's two-level (HQ-VAE style) code map: a coarse map at half resolution and a fine map at full
// resolution, combined by sum (the fine map codes what the upsampled coarse map leaves) or by concatenation
// (each map codes half of the channels).
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Quantizers;

/// <summary>A coarse (h/2 × w/2) and a fine (h × w) code map; indices are the coarse map then the fine map, flattened.</summary>
public sealed class TwoLevelQuantizer : Quantizer
{
    readonly Quantizer coarse, fine;

    /// <param name="dim">Feature channels D.</param>
    /// <param name="aggregation">CumulativeSum: fine codes the residual of the upsampled coarse codes; Concat: D/2 channels each.</param>
    /// <param name="levelFactory">Builds each level's quantizer for a given channel count.</param>
    public TwoLevelQuantizer(int dim, StackAggregation aggregation, Func<int, Quantizer> levelFactory)
        : base(nameof(TwoLevelQuantizer), dim, Probe(dim, aggregation, levelFactory))
    {
        Aggregation = aggregation;
        int levelDim = aggregation == StackAggregation.Concat ? dim / 2 : dim;
        coarse = levelFactory(levelDim);
        fine = levelFactory(levelDim);
        RegisterComponents();
    }

    static long Probe(int dim, StackAggregation aggregation, Func<int, Quantizer> factory)
    {
        if (aggregation == StackAggregation.Concat
            && dim % 2 != 0) throw new ArgumentException($"dim={dim} must be even to split between two levels.", nameof(dim));
        using var q = factory(aggregation == StackAggregation.Concat ? dim / 2 : dim);
        return q.CodebookSize;
    }

    public StackAggregation Aggregation { get; }
    public override long PositionsFor(long h, long w) => h / 2 * (w / 2) + h * w;
    public override long CodesFor(long h, long w) => PositionsFor(h, w);
    public override long[] IndexShape(long batch, long h, long w) => new[] { batch, CodesFor(h, w) };
    public override long[]? Histogram() => null; // one per level

    public override double RegularizerScale
    {
        get => coarse.RegularizerScale;
        set { coarse.RegularizerScale = value; fine.RegularizerScale = value; }
    }

    public override QuantizerOutput Quantize(Tensor features, Tensor? mask = null) =>
        mask is null ? forward(features)
            : throw new ArgumentException("a two-level map quantizes every position of both levels; it takes no mask.", nameof(mask));
    public override double BitsPerPosition => 1.25 * Math.Log2(CodebookSize); // per fine position, coarse codes included

    public override QuantizerOutput forward(Tensor z)
    {
        if (z.dim() != 4 || z.shape[1] != Dim || z.shape[2] % 2 != 0 || z.shape[3] % 2 != 0)
            throw new ArgumentException($"features must be [B, {Dim}, H, W] with even H and W; got [{string.Join(", ", z.shape)}].",
                nameof(z));
        bool concat = Aggregation == StackAggregation.Concat;
        long half = Dim / 2;
        var coarseIn = F.avg_pool2d(concat ? z.narrow(1, 0, half) : z, 2);
        var c = coarse.forward(coarseIn);
        var up = F.interpolate(c.Quantized, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
        var fineIn = concat ? z.narrow(1, half, half) : z - up.detach();
        var f = fine.forward(fineIn);
        var quantized = concat ? cat(new[] { up, f.Quantized }, 1) : up + f.Quantized;
        var indices = cat(new[] { c.Indices.flatten(1), f.Indices.flatten(1) }, 1);
        var parts = c.Parts.Select(kv => KeyValuePair.Create($"{kv.Key}_coarse", kv.Value))
            .Concat(f.Parts.Select(kv => KeyValuePair.Create($"{kv.Key}_fine", kv.Value))).ToDictionary(kv => kv.Key, kv => kv.Value);
        return new QuantizerOutput(quantized, indices, c.AuxLoss + f.AuxLoss, parts);
    }

    /// <summary>Features [B, D, H, W] for indices [B, h·w/4 + h·w] of a square map.</summary>
    public override Tensor Lookup(Tensor indices)
    {
        long n = indices.shape[1], side = (long)Math.Round(Math.Sqrt(n * 4 / 5.0));
        if (side / 2 * (side / 2)
            + side * side != n) throw new ArgumentException($"{n} indices are not a square two-level map (h²/4 + h²).", nameof(indices));
        long b = indices.shape[0], cs = side / 2;
        var c = coarse.Lookup(indices.narrow(1, 0, cs * cs).reshape(b, cs, cs));
        var up = F.interpolate(c, scale_factor: new[] { 2.0, 2.0 }, mode: InterpolationMode.Nearest);
        var f = fine.Lookup(indices.narrow(1, cs * cs, side * side).reshape(b, side, side));
        return Aggregation == StackAggregation.Concat ? cat(new[] { up, f }, 1) : up + f;
    }

    protected override FlatQuantization QuantizeFlat(Tensor z)
        => throw new NotSupportedException("a two-level map needs its spatial layout: call forward with [B, D, H, W].");
    protected override Tensor LookupFlat(Tensor indices) => throw new NotSupportedException("use Lookup with [B, h·w/4 + h·w] indices.");

    public override QuantizerStats Stats()
    {
        var (a, b) = (coarse.Stats(), fine.Stats());
        return new QuantizerStats((a.Usage + b.Usage) / 2, (a.Perplexity + b.Perplexity) / 2, (a.DeadShare + b.DeadShare) / 2);
    }

    public override void ResetUsage() { coarse.ResetUsage(); fine.ResetUsage(); }
}
