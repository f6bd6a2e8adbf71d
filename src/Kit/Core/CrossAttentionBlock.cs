// The pre-norm block of an encoder–decoder transformer: self-attention, then cross-attention to a context, then an MLP,
// each on a layer-normed input and added back. LaVIT builds its token merger (kept tokens over the dropped ones) and its
// feature decoder (learned queries over the kept codes) from it.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>x + self(ln(x)), x + cross(ln(x), context), x + mlp(ln(x)).</summary>
public sealed class CrossAttentionBlock : nn.Module
{
    readonly LayerNorm norm1, norm2, norm3;
    readonly MultiHeadAttention self_attn, cross_attn;
    readonly Sequential mlp;

    /// <param name="dim">Width of the stream.</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="contextDim">Width of the context (default: dim).</param>
    /// <param name="mlpRatio">MLP width as a multiple of dim.</param>
    public CrossAttentionBlock(int dim, int heads, int? contextDim = null, int mlpRatio = 4) : base(nameof(CrossAttentionBlock))
    {
        norm1 = nn.LayerNorm(dim); norm2 = nn.LayerNorm(dim); norm3 = nn.LayerNorm(dim);
        self_attn = new MultiHeadAttention(dim, heads, bias: true);
        cross_attn = new MultiHeadAttention(dim, heads, contextDim: contextDim ?? dim, bias: true);
        mlp = nn.Sequential(nn.Linear(dim, (long)mlpRatio * dim), nn.GELU(), nn.Linear((long)mlpRatio * dim, dim));
        RegisterComponents();
    }

    /// <summary>The cross-attention (for pictures of its weights).</summary>
    public MultiHeadAttention CrossAttention => cross_attn;

    /// <summary>The block on x [B, T, dim] with <paramref name="context"/> [B, S, contextDim]; <paramref name="cross"/> false skips the
    /// cross-attention.</summary>
    public Tensor Forward(Tensor x, Tensor context, AttentionMask selfMask = default, AttentionMask crossMask = default, bool cross = true)
    {
        x = x + self_attn.Forward(norm1.call(x), mask: selfMask);
        if (cross) x = x + cross_attn.Forward(norm2.call(x), context, crossMask);
        return x + mlp.call(norm3.call(x));
    }

    /// <summary>The cross-attention weights [B, H, T, S] this block would use on x.</summary>
    public Tensor CrossWeights(Tensor x, Tensor context, AttentionMask selfMask = default, AttentionMask crossMask = default)
    {
        x = x + self_attn.Forward(norm1.call(x), mask: selfMask);
        return cross_attn.Weights(norm2.call(x), context, crossMask);
    }
}
