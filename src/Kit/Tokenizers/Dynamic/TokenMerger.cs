// LaVIT's token merger (§3.1): the kept tokens fold in the detail of the dropped ones before they are quantized. L
// blocks, each: self-attention among the kept tokens, causal in patch order as released (a kept token sees the kept
// tokens at or before it); cross-attention from the kept tokens to the layer-normed raw features of the dropped ones
// (the same keys in every block); an MLP. Everything runs over all N positions under masks — no gathering, so a batch
// keeps one shape. An image with no dropped token has nothing to cross-attend to and one with no kept token has no
// query: the attention module gives those rows a zero update explicitly (the released eps trick silently gives uniform
// weights instead). Only the kept positions of the output mean anything.
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Tokenizers.Dynamic;

/// <summary>L merger blocks over all N positions.</summary>
public sealed class TokenMerger : nn.Module
{
    readonly LayerNorm norm_dropped;
    readonly ModuleList<CrossAttentionBlock> blocks;

    /// <param name="dim">Width of the merged tokens.</param>
    /// <param name="layers">Merger blocks L.</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="featureDim">Width C of the raw patch features the dropped keys come from (default: dim).</param>
    public TokenMerger(int dim, int layers, int heads, int? featureDim = null) : base(nameof(TokenMerger))
    {
        if (layers < 1) throw new ArgumentException($"layers={layers}: expected at least one merger block.", nameof(layers));
        norm_dropped = nn.LayerNorm(featureDim ?? dim);
        blocks = nn.ModuleList(Enumerable.Range(0, layers).Select(_ => new CrossAttentionBlock(dim, heads,
            contextDim: featureDim ?? dim)).ToArray());
        RegisterComponents();
    }

    /// <summary>
    /// Merged tokens [B, N, dim] from patch features [B, N, C] and the keep mask [B, N] (bool or 0/1); only kept positions
    /// are meaningful. <paramref name="tokens"/> [B, N, dim] are the features as the merger's stream starts (default: the
    /// features themselves). Without <paramref name="crossAttention"/> the dropped tokens reach nothing (the merger-off ablation).
    /// </summary>
    public Tensor Forward(Tensor features, Tensor keep, Tensor? tokens = null, bool crossAttention = true)
    {
        var (dropped, selfMask, crossMask) = Masks(features, keep);
        var x = tokens ?? features;
        foreach (var block in blocks) x = block.Forward(x, dropped, selfMask, crossMask, crossAttention);
        return x;
    }

    /// <summary>The last block's cross-attention weights [B, H, N, N] (kept queries over dropped keys), for pictures.</summary>
    public Tensor CrossWeights(Tensor features, Tensor keep, Tensor? tokens = null)
    {
        var (dropped, selfMask, crossMask) = Masks(features, keep);
        var x = tokens ?? features;
        for (int i = 0; i < blocks.Count - 1; i++) x = blocks[i].Forward(x, dropped, selfMask, crossMask);
        return blocks[blocks.Count - 1].CrossWeights(x, dropped, selfMask, crossMask);
    }

    // The dropped tokens' keys and values are their raw features, normed, the same in every block. Self-attention weighs
    // each key by M (a kept token sees the kept tokens at or before it), cross-attention by 1 − M (the dropped ones only):
    // exact masks for a hard 0/1 mask, and through the straight-through estimator the selector learns from both.
    (Tensor Dropped, AttentionMask Self, AttentionMask Cross) Masks(Tensor features, Tensor keep)
    {
        if (keep.dim() != 2 || keep.shape[0] != features.shape[0] || keep.shape[1] != features.shape[1])
            throw new ArgumentException($"keep is [{string.Join(", ", keep.shape)}]; features [{string.Join(", ", features.shape)}] " +
                $"need [{features.shape[0]}, {features.shape[1]}].", nameof(keep));
        var weights = keep.to(features.dtype);
        return (norm_dropped.call(features), new AttentionMask(Causal: true, KeyWeights: weights),
            new AttentionMask(KeyWeights: 1 - weights));
    }
}
