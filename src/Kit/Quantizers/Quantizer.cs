// The contract every quantizer shares (after vector-quantize-pytorch): features in, the quantized
// features (straight-through), the integer indices, one auxiliary loss and its named parts out — so any
// quantizer drops into the same place in a tokenizer.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Quantizers;

/// <summary>What a quantizer returns. Tensors belong to the caller's dispose scope.</summary>
/// <param name="Quantized">Same shape as the input; gradients reach the input (straight-through or rotation trick).</param>
/// <param name="Indices">[B, H, W] for [B, D, H, W] input, [B, N] for [B, N, D]; stacked quantizers add a last axis of layers.</param>
/// <param name="AuxLoss">Scalar to add to the training loss (commitment, codebook, entropy terms, already weighted).</param>
/// <param name="Parts">The unweighted terms, detached, for logging (e.g. "commitment", "entropy_sample", "entropy_codebook").</param>
public sealed record QuantizerOutput(Tensor Quantized, Tensor Indices, Tensor AuxLoss, IReadOnlyDictionary<string, Tensor> Parts);

/// <summary>Result of quantizing flat features [M, D].</summary>
public sealed record FlatQuantization(Tensor Quantized, Tensor Indices, Tensor AuxLoss, Dictionary<string, Tensor> Parts);

/// <summary>Codebook statistics over the recent window: what users of quantizer libraries keep asking for.</summary>
/// <param name="Usage">Share of codes used at least once (0–1).</param>
/// <param name="Perplexity">exp(entropy of the code histogram): the effective number of codes.</param>
/// <param name="DeadShare">Share of codes never used (1 − usage).</param>
public sealed record QuantizerStats(double Usage, double Perplexity, double DeadShare);

/// <summary>Base of every quantizer: handles the [B, D, H, W] / [B, N, D] layouts and usage tracking.</summary>
public abstract class Quantizer : nn.Module<Tensor, QuantizerOutput>
{
    protected Quantizer(string name, int dim, long codebookSize) : base(name)
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, "expected a positive feature dimension");
        if (codebookSize < 2) throw new ArgumentOutOfRangeException(nameof(codebookSize), codebookSize, "expected at least 2 codes");
        Dim = dim;
        CodebookSize = codebookSize;
        Usage = new CodeUsage(codebookSize);
    }

    /// <summary>Feature dimension D of the input.</summary>
    public int Dim { get; }
    /// <summary>Number of codes (per layer for stacked quantizers).</summary>
    public long CodebookSize { get; }
    /// <summary>Code histogram over the recent window.</summary>
    public CodeUsage Usage { get; }
    /// <summary>Index entries per spatial position (1, or D layers for stacked quantizers).</summary>
    public virtual int IndicesPerPosition => 1;
    /// <summary>Bits one position costs: log2(K) per index.</summary>
    public virtual double BitsPerPosition => IndicesPerPosition * Math.Log2(CodebookSize);

    /// <summary>Positions (embeddings an LLM would read) for an h×w feature map: h·w, whatever the layers per position.</summary>
    public virtual long PositionsFor(long h, long w) => h * w;

    /// <summary>Index entries an h×w feature map becomes (what a language model reads as visual tokens): h·w·layers.</summary>
    public virtual long CodesFor(long h, long w) => h * w * IndicesPerPosition;

    /// <summary>The shape of the indices of <paramref name="batch"/> h×w maps, as forward returns them and Lookup takes them.</summary>
    public virtual long[] IndexShape(long batch, long h, long w) =>
        IndicesPerPosition > 1 ? new[] { batch, h, w, IndicesPerPosition } : new[] { batch, h, w };

    /// <summary>
    /// A factor on the quantizer's annealable regulariser, set by a training schedule each step (LFQ: its entropy
    /// penalty; quantizers without one ignore it). 1 = the weight the quantizer was built with.
    /// </summary>
    public virtual double RegularizerScale { get; set; } = 1;

    /// <summary>The one table of codes this quantizer looks up (null for implicit codebooks and stacks of several).</summary>
    public virtual Codebook? Codebook => null;

    /// <summary>
    /// The code histogram of the recent window, when the quantizer keeps one histogram of at most 2^16 codes (stacked and
    /// two-level quantizers keep one per layer, so they return null).
    /// </summary>
    public virtual long[]? Histogram() => CodebookSize <= (1 << 16) && IndicesPerPosition == 1 ? Usage.Counts() : null;

    /// <summary>Statistics of the codes seen in the recent window.</summary>
    public virtual QuantizerStats Stats() => Usage.Stats();

    /// <summary>Forgets the usage window (call before measuring on held-out data).</summary>
    public virtual void ResetUsage() => Usage.Reset();

    public override QuantizerOutput forward(Tensor features) => Quantize(features);

    /// <summary>
    /// Quantizes <paramref name="features"/> where <paramref name="mask"/> ([B, N] or [B, H, W], true = quantize) allows.
    /// Masked-out positions pass through unchanged with index −1, and change nothing: not the codebook, not its EMA
    /// statistics, not the usage counts; the auxiliary loss is the quantized positions' alone (LaVIT quantizes only the
    /// tokens its selector keeps).
    /// </summary>
    public virtual QuantizerOutput Quantize(Tensor features, Tensor? mask = null)
    {
        var (flat, restore, indexShape) = Flatten(features);
        // An empty batch has no codes to count and makes every mean in the auxiliary loss 0/0 = NaN.
        if (flat.shape[0] == 0)
            throw new ArgumentException($"features [{string.Join(", ", features.shape)}] hold no positions to quantize (an empty " +
                $"batch); expected at least one.", nameof(features));
        if (mask is null)
        {
            var r = QuantizeFlat(flat);
            RecordUsage(r.Indices);
            return new QuantizerOutput(restore(r.Quantized), r.Indices.reshape(IndexShape(indexShape)), r.AuxLoss, r.Parts);
        }
        if (!mask.shape.SequenceEqual(indexShape))
            throw new ArgumentException($"the mask is [{string.Join(", ", mask.shape)}]; these features need one entry per position, " +
                $"[{string.Join(", ", indexShape)}].", nameof(mask));
        var keep = mask.to(@bool).reshape(-1).nonzero().reshape(-1);
        var shape = IndexShape(new[] { flat.shape[0] });
        if (keep.shape[0] == 0)
            return new QuantizerOutput(features, full(IndexShape(indexShape), -1L, device: features.device),
                zeros(1, device: features.device).squeeze(), new Dictionary<string, Tensor>());
        var kept = QuantizeFlat(flat.index_select(0, keep));
        RecordUsage(kept.Indices);
        var quantized = flat.index_copy(0, keep, kept.Quantized);
        var indices = full(shape, -1L, device: features.device).index_copy(0, keep, kept.Indices);
        return new QuantizerOutput(restore(quantized), indices.reshape(IndexShape(indexShape)), kept.AuxLoss, kept.Parts);
    }

    /// <summary>Records indices [M] (or [M, layers]) in the usage window.</summary>
    protected virtual void RecordUsage(Tensor indices) => Usage.Record(indices);

    /// <summary>The features the indices stand for, in the layout quantize() would return ([B, D, H, W] for [B, H, W]).</summary>
    public virtual Tensor Lookup(Tensor indices)
    {
        CheckCodes(indices);
        bool stacked = IndicesPerPosition > 1;
        var spatial = stacked ? indices.shape[..^1] : indices.shape;
        var flat = LookupFlat(stacked ? indices.reshape(-1, IndicesPerPosition) : indices.reshape(-1));
        var shaped = flat.reshape(spatial.Append(Dim).ToArray());
        return spatial.Length == 3 ? shaped.permute(0, 3, 1, 2) : shaped;
    }

    /// <summary>
    /// Refuses codes outside [0, K): an index_select would fail with libtorch's bare "index out of range in self", and LFQ's
    /// bit arithmetic would quietly decode another code (code 99 of a 4-bit LFQ is code 3).
    /// </summary>
    protected void CheckCodes(Tensor indices)
    {
        if (indices.is_floating_point()) throw new ArgumentException($"codes must be integers; got {indices.dtype} " +
            $"[{string.Join(", ", indices.shape)}].", nameof(indices));
        if (indices.numel() == 0) return;
        long lo = indices.min().item<long>(), hi = indices.max().item<long>();
        if (lo < 0 || hi >= CodebookSize)
            throw new ArgumentOutOfRangeException(nameof(indices),
                $"codes {lo} … {hi} given; this {GetType().Name} has {CodebookSize} codes: expected 0 … {CodebookSize - 1}.");
    }

    /// <summary>Quantizes flat features z [M, D].</summary>
    protected abstract FlatQuantization QuantizeFlat(Tensor z);

    /// <summary>Features [M, D] for flat indices [M] (or [M, layers]).</summary>
    protected abstract Tensor LookupFlat(Tensor indices);

    long[] IndexShape(long[] spatial) => IndicesPerPosition > 1 ? spatial.Append(IndicesPerPosition).ToArray() : spatial;

    (Tensor Flat, Func<Tensor, Tensor> Restore, long[] Spatial) Flatten(Tensor x)
    {
        if (x.dim() == 4)
        {
            if (x.shape[1] != Dim) throw new ArgumentException($"features [{string.Join(", ", x.shape)}] have {x.shape[1]} channels; " +
                $"this quantizer expects [B, {Dim}, H, W].", nameof(x));
            long b = x.shape[0], h = x.shape[2], w = x.shape[3];
            return (x.permute(0, 2, 3, 1).reshape(-1, Dim), q => q.reshape(b, h, w, Dim).permute(0, 3, 1, 2), new[] { b, h, w });
        }
        if (x.dim() == 3)
        {
            if (x.shape[2] != Dim) throw new ArgumentException($"features [{string.Join(", ", x.shape)}] have last dimension " +
                $"{x.shape[2]}; this quantizer expects [B, N, {Dim}].", nameof(x));
            long b = x.shape[0], n = x.shape[1];
            return (x.reshape(-1, Dim), q => q.reshape(b, n, Dim), new[] { b, n });
        }
        throw new ArgumentException($"features must be [B, D, H, W] or [B, N, D]; got [{string.Join(", ", x.shape)}].", nameof(x));
    }

    /// <summary>Straight-through estimator: the value of <paramref name="quantized"/>, the gradient of <paramref name="z"/>.</summary>
    public static Tensor StraightThrough(Tensor z, Tensor quantized) => z + (quantized - z).detach();
}
