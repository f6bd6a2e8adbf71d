// A quantizer described by plain values, so an experiment's config can name it, print it and key the
// artifact cache with it; Build() makes the module.
namespace Kit.Quantizers;

/// <summary>Which quantizer a spec builds.</summary>
public enum QuantizerKind { Vq, Lfq, Fsq, Stacked, TwoLevel }

/// <summary>Every quantizer option as a value; a field set away from its default that the kind does not use is an error at Build.</summary>
public sealed record QuantizerSpec(
    QuantizerKind Kind = QuantizerKind.Vq,
    int CodebookSize = 256, int? CodeDim = null, CodeDistance Distance = CodeDistance.L2, CodebookUpdate Update = CodebookUpdate.Ema,
    double Decay = 0.99, bool KmeansInit = false, double DeadCodeThreshold = 0,
        GradientEstimator Estimator = GradientEstimator.StraightThrough,
    double CommitmentWeight = 0.25, double OrthogonalWeight = 0,
    int Bits = 8, double EntropyWeight = 0.1, double DiversityGamma = 1.0, double Temperature = 0.01, int? GroupBits = null,
        bool Spherical = false,
    int[]? Levels = null,
    int Depth = 1, StackAggregation Aggregation = StackAggregation.Concat, QuantizerKind LayerKind = QuantizerKind.Vq,
        bool SharedCodebook = false)
{
    /// <summary>Builds the quantizer for features of dimension <paramref name="dim"/>.</summary>
    public Quantizer Build(int dim)
    {
        Validate();
        if (Kind == QuantizerKind.Lfq && dim != Bits)
            throw new ArgumentException($"an LFQ spec of Bits={Bits} quantizes {Bits} features (2^{Bits} codes); it was given " +
                $"dim={dim}. Set Bits={dim} or give it {Bits} features.", nameof(dim));
        return BuildChecked(dim);
    }

    // Each layer of a stacked or two-level spec is this spec as its layer kind, without the stacking fields.
    QuantizerSpec Layer => this with { Kind = LayerKind, Depth = 1, Aggregation = StackAggregation.Concat, LayerKind = QuantizerKind.Vq,
        SharedCodebook = false };

    static readonly QuantizerSpec Defaults = new();

    // Which fields each kind reads (CommitmentWeight: every kind that has a commitment loss).
    static string[] Reads(QuantizerKind kind, QuantizerKind layer) => kind switch
    {
        QuantizerKind.Vq => new[] { nameof(CodebookSize), nameof(CodeDim), nameof(Distance), nameof(Update), nameof(Decay),
            nameof(KmeansInit), nameof(DeadCodeThreshold), nameof(Estimator), nameof(OrthogonalWeight) },
        QuantizerKind.Lfq => new[] { nameof(Bits), nameof(EntropyWeight), nameof(DiversityGamma), nameof(Temperature), nameof(GroupBits),
            nameof(Spherical) },
        QuantizerKind.Fsq => new[] { nameof(Levels) },
        QuantizerKind.Stacked => new[] { nameof(Depth), nameof(Aggregation), nameof(LayerKind), nameof(SharedCodebook) }.Concat(Reads(layer,
            QuantizerKind.Vq)).ToArray(),
        _ => new[] { nameof(Aggregation), nameof(LayerKind) }.Concat(Reads(layer, QuantizerKind.Vq)).ToArray(),
    };

    /// <summary>Throws ArgumentException naming each field set away from its default that this kind does not read.</summary>
    public QuantizerSpec Validate()
    {
        if (Kind is QuantizerKind.Stacked or QuantizerKind.TwoLevel && LayerKind is QuantizerKind.Stacked or QuantizerKind.TwoLevel)
            throw new ArgumentException($"LayerKind={LayerKind}: a {Kind} spec's layers are Vq, Lfq or Fsq.", nameof(LayerKind));
        var set = new (string Name, bool Set, object? Value)[]
        {
            (nameof(CodebookSize), CodebookSize != Defaults.CodebookSize, CodebookSize), (nameof(CodeDim), CodeDim is not null, CodeDim),
            (nameof(Distance), Distance != Defaults.Distance, Distance), (nameof(Update), Update != Defaults.Update,
                Update), (nameof(Decay), Decay != Defaults.Decay, Decay),
            (nameof(KmeansInit), KmeansInit, KmeansInit), (nameof(DeadCodeThreshold), DeadCodeThreshold != Defaults.DeadCodeThreshold,
                DeadCodeThreshold),
            (nameof(Estimator), Estimator != Defaults.Estimator, Estimator), (nameof(OrthogonalWeight),
                OrthogonalWeight != Defaults.OrthogonalWeight, OrthogonalWeight),
            (nameof(Bits), Bits != Defaults.Bits, Bits), (nameof(EntropyWeight), EntropyWeight != Defaults.EntropyWeight, EntropyWeight),
            (nameof(DiversityGamma), DiversityGamma != Defaults.DiversityGamma, DiversityGamma), (nameof(Temperature),
                Temperature != Defaults.Temperature, Temperature),
            (nameof(GroupBits), GroupBits is not null, GroupBits), (nameof(Spherical), Spherical, Spherical),
            (nameof(Levels), Levels is not null, Levels is null ? null : $"[{string.Join(", ", Levels)}]"),
            (nameof(Depth), Depth != Defaults.Depth, Depth), (nameof(Aggregation), Aggregation != Defaults.Aggregation, Aggregation),
            (nameof(LayerKind), LayerKind != Defaults.LayerKind, LayerKind), (nameof(SharedCodebook), SharedCodebook, SharedCodebook),
        };
        var reads = Reads(Kind, LayerKind);
        var unused = set.Where(f => f.Set && !reads.Contains(f.Name)).Select(f => $"{f.Name}={f.Value}").ToList();
        var layers = Kind is QuantizerKind.Stacked or QuantizerKind.TwoLevel ? $" of {LayerKind} layers" : "";
        if (unused.Count > 0)
            throw new ArgumentException($"a {Kind}{layers} spec does not use {string.Join(", ", unused)} " +
                $"(it reads {string.Join(", ", reads)}, and CommitmentWeight).", unused[0].Split('=')[0]);
        return this;
    }

    Quantizer BuildChecked(int dim) => Kind switch
    {
        QuantizerKind.Vq => new VectorQuantizer(dim, CodebookSize, CodeDim is int c ? Math.Min(c, dim) : null, Distance, Update, Decay,
            commitmentWeight: CommitmentWeight, kmeansInit: KmeansInit, deadCodeThreshold: DeadCodeThreshold, estimator: Estimator,
                orthogonalWeight: OrthogonalWeight),
        QuantizerKind.Lfq => new LookupFreeQuantizer(dim, CommitmentWeight, EntropyWeight, DiversityGamma, Temperature, GroupBits,
            Spherical),
        QuantizerKind.Fsq => new FiniteScalarQuantizer(Levels ?? throw new ArgumentException("an FSQ spec needs Levels, e.g. [8, 5, 5, 5].",
            nameof(Levels))),
        QuantizerKind.Stacked => new ResidualQuantizer(dim, Depth, Aggregation, d => Layer.Build(d), SharedCodebook),
        QuantizerKind.TwoLevel => new TwoLevelQuantizer(dim, Aggregation, d => Layer.Build(d)),
        _ => throw new ArgumentException($"Kind={Kind} is not a quantizer kind.", nameof(Kind)),
    };

    /// <summary>The feature dimension the tokenizer must hand this quantizer (LFQ: its bits; FSQ: its level count), or null when any
    /// works.</summary>
    public int? RequiredDim => Kind switch
    {
        QuantizerKind.Lfq => Bits,
        QuantizerKind.Fsq => (Levels ?? Array.Empty<int>()).Length,
        QuantizerKind.Stacked or QuantizerKind.TwoLevel when LayerKind == QuantizerKind.Lfq
            => Bits * (Aggregation == StackAggregation.Concat ? (Kind == QuantizerKind.TwoLevel ? 2 : Depth) : 1),
        _ => null,
    };

    /// <summary>A short human-readable description for tables.</summary>
    public string Describe() => Kind switch
    {
        QuantizerKind.Vq
            => $"VQ K={CodebookSize}{(CodeDim is int c ? $" d={c}" : "")} {Distance} " +
                $"{Update}{(KmeansInit ? " kmeans" : "")}{(DeadCodeThreshold > 0 ? " restart" : "")}" +
                $"{(Estimator == GradientEstimator.Rotation ? " rotation" : "")}",
        QuantizerKind.Lfq => $"LFQ 2^{Bits}{(EntropyWeight > 0 ? $" ent={EntropyWeight}" : " no-entropy")}{(Spherical ? " BSQ" : "")}",
        QuantizerKind.Fsq => $"FSQ [{string.Join(",", Levels ?? Array.Empty<int>())}]",
        QuantizerKind.Stacked => $"{Depth}×{(this with { Kind = LayerKind }).Describe()} {Aggregation}",
        _ => $"two-level {(this with { Kind = LayerKind }).Describe()} {Aggregation}",
    };
}
