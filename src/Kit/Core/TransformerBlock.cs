// The pre-norm transformer block every transformer of the kit is built from (GPT-2's layout): x + attn(ln_1(x)), then
// x + mlp(ln_2(x)), the MLP being Linear → GELU → Linear. The GPT passes rotary positions, its KV cache and a causal
// mask; the ViT backbone, the MAE decoder and LexVLA's adapter use it unmasked. Field names follow GPT-2's, so
// state-dict keys read the same as PyTorch's (h.0.ln_1.weight, h.0.attn.qkv.weight, h.0.mlp.0.weight, …).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>Pre-norm self-attention block.</summary>
public sealed class TransformerBlock : nn.Module
{
    readonly LayerNorm ln_1, ln_2;
    readonly MultiHeadAttention attn;
    readonly Sequential mlp;

    /// <param name="dim">Width of the residual stream.</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="mlpRatio">MLP hidden width as a multiple of <paramref name="dim"/>.</param>
    /// <param name="attentionBias">Biases on the attention projections (GPT-2: none; ViTs: yes).</param>
    /// <param name="dropout">Dropout after attention and MLP.</param>
    public TransformerBlock(int dim, int heads, int mlpRatio = 4, bool attentionBias = false,
        double dropout = 0) : base(nameof(TransformerBlock))
    {
        ln_1 = nn.LayerNorm(dim);
        ln_2 = nn.LayerNorm(dim);
        attn = new MultiHeadAttention(dim, heads, bias: attentionBias, dropout: dropout);
        mlp = nn.Sequential(nn.Linear(dim, (long)mlpRatio * dim), nn.GELU(), nn.Linear((long)mlpRatio * dim, dim), nn.Dropout(dropout));
        RegisterComponents();
    }

    /// <summary>The block's attention (for pictures of its weights).</summary>
    public MultiHeadAttention Attention => attn;

    /// <summary>The block on <paramref name="x"/> [B, T, dim]; see <see cref="MultiHeadAttention.Forward"/> for the rest.</summary>
    public Tensor Forward(Tensor x, AttentionMask mask = default, Func<Tensor, Tensor>? rotate = null,
        Func<Tensor, Tensor, (Tensor K, Tensor V)>? extend = null)
    {
        x = x + attn.Forward(ln_1.call(x), mask: mask, rotate: rotate, extend: extend);
        return x + mlp.call(ln_2.call(x));
    }

    /// <summary>The input its attention sees (after the first norm), for <see cref="MultiHeadAttention.Weights"/>.</summary>
    public Tensor AttentionInput(Tensor x) => ln_1.call(x);
}
