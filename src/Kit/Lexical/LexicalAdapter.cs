// The trainable part between the frozen backbone and a codebook (LexVLA's adapter): the patch features projected to
// the language model's width, one pre-norm self-attention block with its two-layer MLP (patches see each other, so a
// patch can take a word from its neighbours), and a final layer norm, so that a patch's dot product with a codebook row
// has the scale of the language model's own logits (its hidden states also end in a layer norm).
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Patch features [B, N, F] → adapted patches [B, N, D].</summary>
public sealed class LexicalAdapter : nn.Module<Tensor, Tensor>
{
    readonly Linear in_proj;
    readonly TransformerBlock block;
    readonly LayerNorm ln;

    /// <param name="featureDim">Width F of the backbone's patch features.</param>
    /// <param name="dim">Width D of the codebook rows (the language model's).</param>
    /// <param name="heads">Attention heads of the block.</param>
    public LexicalAdapter(int featureDim, int dim, int heads = 4) : base(nameof(LexicalAdapter))
    {
        in_proj = nn.Linear(featureDim, dim);
        block = new TransformerBlock(dim, heads, mlpRatio: 2, attentionBias: true);
        ln = nn.LayerNorm(dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor features)
    {
        if (features.dim() != 3 || features.shape[2] != in_proj.in_features)
            throw new ArgumentException($"features must be [B, N, {in_proj.in_features}]; got [{string.Join(", ", features.shape)}].",
                nameof(features));
        return ln.call(block.Forward(in_proj.call(features)));
    }
}
