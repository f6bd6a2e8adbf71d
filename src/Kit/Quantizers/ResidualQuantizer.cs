// Stacked quantization (UniCode; RQ-VAE, Lee et al. 2022): D code layers per position. Concatenation —
// each layer codes its own slice of the feature — or cumulative sum — each layer codes the residual the
// previous layers left, so the sum of the layers' codes approximates the feature ever more closely.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Quantizers;

/// <summary>How the D layers' codes combine into one embedding per position (UniCode's F).</summary>
public enum StackAggregation { Concat, CumulativeSum }

/// <summary>D quantizer layers per position, combined by concatenation or cumulative sum.</summary>
public sealed class ResidualQuantizer : Quantizer
{
    readonly TorchSharp.Modules.ModuleList<Quantizer> layers;
    readonly int _count;

    /// <param name="dim">Feature dimension D.</param>
    /// <param name="depth">Number of code layers.</param>
    /// <param name="aggregation">Concat (each layer quantizes dim/depth channels) or cumulative sum (each layer quantizes the full
    /// residual).</param>
    /// <param name="layerFactory">Builds one layer's quantizer for a given feature dimension, e.g. <c>d => new VectorQuantizer(d,
    /// 256)</c>.</param>
    /// <param name="sharedCodebook">One quantizer (one codebook) serves every layer.</param>
    public ResidualQuantizer(int dim, int depth, StackAggregation aggregation, Func<int, Quantizer> layerFactory,
        bool sharedCodebook = false)
        : base(nameof(ResidualQuantizer), dim, CodebookSizeOf(dim, depth, aggregation, layerFactory, out var first))
    {
        if (aggregation == StackAggregation.Concat && dim % depth != 0)
            throw new ArgumentException($"dim={dim} does not split into depth={depth} equal slices for concatenation.", nameof(depth));
        Aggregation = aggregation;
        Depth = depth;
        SharedCodebook = sharedCodebook;
        int layerDim = aggregation == StackAggregation.Concat ? dim / depth : dim;
        _count = sharedCodebook ? 1 : depth;
        layers = nn.ModuleList(Enumerable.Range(0, _count).Select(i => i == 0 ? first : layerFactory(layerDim)).ToArray());
        foreach (var layer in layers)
            if (layer.Dim != layerDim || layer.CodebookSize != first.CodebookSize)
                throw new ArgumentException($"every layer must take {layerDim} features and have {first.CodebookSize} codes.",
                    nameof(layerFactory));
        RegisterComponents();
    }

    static long CodebookSizeOf(int dim, int depth, StackAggregation aggregation, Func<int, Quantizer> factory, out Quantizer first)
    {
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), depth, "expected at least one layer");
        first = factory(aggregation == StackAggregation.Concat ? Math.Max(1, dim / depth) : dim);
        return first.CodebookSize;
    }

    public StackAggregation Aggregation { get; }
    public int Depth { get; }
    public bool SharedCodebook { get; }
    public override int IndicesPerPosition => Depth;

    /// <summary>The quantizer of layer <paramref name="d"/>.</summary>
    public Quantizer Layer(int d) => layers[SharedCodebook ? 0 : d];

    protected override FlatQuantization QuantizeFlat(Tensor z)
    {
        var parts = new Dictionary<string, Tensor>();
        var indices = new List<Tensor>();
        var outputs = new List<Tensor>();
        Tensor aux = zeros(1, device: z.device).squeeze();
        var residual = z;
        for (int d = 0; d < Depth; d++)
        {
            var input = Aggregation == StackAggregation.Concat ? z.narrow(1, d * (Dim / Depth), Dim / Depth) : residual;
            var r = Layer(d).forward(input.unsqueeze(0)); // [1, M, d]: the layer tracks its own usage
            var q = r.Quantized.squeeze(0);
            outputs.Add(q);
            indices.Add(r.Indices.squeeze(0));
            aux = aux + r.AuxLoss;
            foreach (var (k, v) in r.Parts) parts[$"{k}_{d}"] = v;
            if (Aggregation == StackAggregation.CumulativeSum) residual = residual - q.detach();
        }
        var quantized = Aggregation == StackAggregation.Concat ? cat(outputs, 1) : outputs.Aggregate((a, b) => a + b);
        return new FlatQuantization(quantized, stack(indices, 1), aux, parts);
    }

    protected override Tensor LookupFlat(Tensor indices)
    {
        var codes = LayerCodes(indices, Depth);
        return Aggregation == StackAggregation.Concat ? cat(codes, 1) : codes.Aggregate((a, b) => a + b);
    }

    // Each of the first `count` layers' features for flat indices [M, Depth].
    List<Tensor> LayerCodes(Tensor flat, int count) =>
        Enumerable.Range(0, count).Select(d => Layer(d).Lookup(flat.select(1, d).unsqueeze(0)).squeeze(0)).ToList();

    /// <summary>The sum (or concatenation) of the first <paramref name="layersUsed"/> layers' codes: reconstruction with fewer
    /// layers.</summary>
    public Tensor LookupPrefix(Tensor indices, int layersUsed)
    {
        if (Aggregation != StackAggregation.CumulativeSum) throw new InvalidOperationException("a prefix of layers reconstructs only " +
            "with cumulative-sum aggregation.");
        return LayerCodes(indices.reshape(-1, Depth), layersUsed).Aggregate((a, b) => a + b);
    }

    protected override void RecordUsage(Tensor indices) { } // each layer records its own
    public override long[]? Histogram() => null;           // one per layer

    public override double RegularizerScale
    {
        get => Layer(0).RegularizerScale;
        set { foreach (var l in layers) l.RegularizerScale = value; }
    }

    /// <summary>Mean of the layers' statistics.</summary>
    public override QuantizerStats Stats()
    {
        var all = layers.Select(l => l.Stats()).ToList();
        return new QuantizerStats(all.Average(s => s.Usage), all.Average(s => s.Perplexity), all.Average(s => s.DeadShare));
    }

    public override void ResetUsage() { foreach (var l in layers) l.ResetUsage(); }
}
