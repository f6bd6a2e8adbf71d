// A quantizer described by plain values, so an experiment's config can name it, print it and key the
// artifact cache with it; Build() makes the module.
namespace Kit.Quantizers;

/// <summary>Which quantizer a spec builds.</summary>
public enum QuantizerKind { Vq, Lfq, Fsq, Stacked, TwoLevel }

/// <summary>Every quantizer option as a value; unused fields are ignored by the kind that does not need them.</summary>
public sealed record QuantizerSpec(
    QuantizerKind Kind = QuantizerKind.Vq,
    int CodebookSize = 256, int? CodeDim = null, CodeDistance Distance = CodeDistance.L2, CodebookUpdate Update = CodebookUpdate.Ema,
    double Decay = 0.99, bool KmeansInit = false, double DeadCodeThreshold = 0, GradientEstimator Estimator = GradientEstimator.StraightThrough,
    double CommitmentWeight = 0.25, double OrthogonalWeight = 0,
    int Bits = 8, double EntropyWeight = 0.1, double DiversityGamma = 1.0, double Temperature = 0.01, int? GroupBits = null, bool Spherical = false,
    int[]? Levels = null,
    int Depth = 1, StackAggregation Aggregation = StackAggregation.Concat, QuantizerKind LayerKind = QuantizerKind.Vq, bool SharedCodebook = false)
{
    /// <summary>Builds the quantizer for features of dimension <paramref name="dim"/>.</summary>
    public Quantizer Build(int dim) => Kind switch
    {
        QuantizerKind.Vq => new VectorQuantizer(dim, CodebookSize, CodeDim is int c ? Math.Min(c, dim) : null, Distance, Update, Decay,
            commitmentWeight: CommitmentWeight, kmeansInit: KmeansInit, deadCodeThreshold: DeadCodeThreshold, estimator: Estimator, orthogonalWeight: OrthogonalWeight),
        QuantizerKind.Lfq => new LookupFreeQuantizer(dim, CommitmentWeight, EntropyWeight, DiversityGamma, Temperature, GroupBits, Spherical),
        QuantizerKind.Fsq => new FiniteScalarQuantizer(Levels ?? throw new ArgumentException("an FSQ spec needs Levels, e.g. [8, 5, 5, 5].", nameof(Levels))),
        QuantizerKind.Stacked => new ResidualQuantizer(dim, Depth, Aggregation, d => (this with { Kind = LayerKind }).Build(d), SharedCodebook),
        QuantizerKind.TwoLevel => new TwoLevelQuantizer(dim, Aggregation, d => (this with { Kind = LayerKind }).Build(d)),
        _ => throw new ArgumentException($"Kind={Kind} is not a quantizer kind.", nameof(Kind)),
    };

    /// <summary>The feature dimension the tokenizer must hand this quantizer (LFQ: its bits; FSQ: its level count), or null when any works.</summary>
    public int? RequiredDim => Kind switch
    {
        QuantizerKind.Lfq => Bits,
        QuantizerKind.Fsq => (Levels ?? Array.Empty<int>()).Length,
        QuantizerKind.Stacked or QuantizerKind.TwoLevel when LayerKind == QuantizerKind.Lfq => Bits * (Aggregation == StackAggregation.Concat ? (Kind == QuantizerKind.TwoLevel ? 2 : Depth) : 1),
        _ => null,
    };

    /// <summary>A short human-readable description for tables.</summary>
    public string Describe() => Kind switch
    {
        QuantizerKind.Vq => $"VQ K={CodebookSize}{(CodeDim is int c ? $" d={c}" : "")} {Distance} {Update}{(KmeansInit ? " kmeans" : "")}{(DeadCodeThreshold > 0 ? " restart" : "")}{(Estimator == GradientEstimator.Rotation ? " rotation" : "")}",
        QuantizerKind.Lfq => $"LFQ 2^{Bits}{(EntropyWeight > 0 ? $" ent={EntropyWeight}" : " no-entropy")}{(Spherical ? " BSQ" : "")}",
        QuantizerKind.Fsq => $"FSQ [{string.Join(",", Levels ?? Array.Empty<int>())}]",
        QuantizerKind.Stacked => $"{Depth}×{(this with { Kind = LayerKind }).Describe()} {Aggregation}",
        _ => $"two-level {(this with { Kind = LayerKind }).Describe()} {Aggregation}",
    };
}
