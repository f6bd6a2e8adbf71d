// LexVLA's image side: frozen patch features → adapter → each patch's scores against the image codebook Z_img (one row
// per lexicon entry; initialised as a copy of the text codebook and fine-tuned, so an image and a caption start out
// scoring the same word by the same row) → ELU1p → max-pool over patches → normalise. Sparsifying (1/√V or top-k) is
// left to inference: a cut in training would stop the gradient of every entry below it.
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Patch features → lexical vectors over a <see cref="Lexicon"/>.</summary>
public sealed class LexicalImageEncoder : nn.Module
{
    readonly LexicalAdapter adapter;
    readonly Parameter codebook;

    /// <param name="featureDim">Width of the backbone's patch features.</param>
    /// <param name="textCodebook">Z_txt [V, D]: copied into Z_img (the argument is not kept).</param>
    public LexicalImageEncoder(int featureDim, Tensor textCodebook, int heads = 4) : base(nameof(LexicalImageEncoder))
    {
        if (textCodebook.dim() != 2) throw new ArgumentException($"textCodebook must be [V, D]; got " +
            $"[{string.Join(", ", textCodebook.shape)}].", nameof(textCodebook));
        adapter = new LexicalAdapter(featureDim, (int)textCodebook.shape[1], heads);
        using (no_grad()) codebook = nn.Parameter(textCodebook.detach().clone().cpu());
        RegisterComponents();
    }

    /// <summary>Z_img [V, D].</summary>
    public Tensor Codebook => codebook;

    /// <summary>Each patch's lexical scores ELU1p(adapter(x) · Z_imgᵀ), [B, N, V], unnormalised (PatchDis reads them).</summary>
    public Tensor PatchScores(Tensor features) => LexicalVectors.Elu1p(adapter.call(features).MatmulChecked(codebook.t()));

    /// <summary>The image's lexical vector [B, V]: patch scores max-pooled and normalised (not sparsified).</summary>
    public Tensor Encode(Tensor features) => LexicalVectors.Normalise(LexicalVectors.MaxPool(PatchScores(features)));
}
