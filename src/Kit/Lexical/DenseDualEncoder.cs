// The dense baseline LexVLA is compared with: a CLIP-style dual encoder built from the same parts — the same frozen
// backbone and adapter on the image side (patches mean-pooled), the same prompted GPT on the text side — each projected
// to one d-dimensional embedding and normalised, trained with the same InfoNCE on the same data for the same steps.
// Its per-patch embeddings (the projection applied before pooling) are what PatchDis scores for the dense model.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Dense image and text embeddings in one d-dimensional space.</summary>
public sealed class DenseDualEncoder : nn.Module, IDualEncoder
{
    readonly LexicalAdapter adapter;
    readonly Linear image_proj, text_proj;
    readonly PromptedText text;

    /// <param name="featureDim">Width of the backbone's patch features.</param>
    /// <param name="text">The prompted GPT (its last block fine-tunes with the towers).</param>
    /// <param name="embeddingDim">d, the embedding width.</param>
    /// <param name="readout">The text states it reads: the prompt's last (as LexVLA's text side) or the caption's, averaged.</param>
    public DenseDualEncoder(int featureDim, PromptedText text, int embeddingDim, int heads = 4,
        TextReadout readout = TextReadout.LastToken) : base(nameof(DenseDualEncoder))
    {
        Readout = readout;
        adapter = new LexicalAdapter(featureDim, text.Dim, heads);
        image_proj = nn.Linear(text.Dim, embeddingDim);
        text_proj = nn.Linear(text.Dim, embeddingDim);
        this.text = text;
        RegisterComponents();
    }

    /// <summary>The image tower's adapted patches [B, N, D] (the caption-aligned backbone of the backbone ablation).</summary>
    public Tensor AdaptedPatches(Tensor features) => adapter.call(features);

    /// <summary>Image embeddings [B, d]: patches mean-pooled, projected, normalised.</summary>
    public Tensor EncodeImages(Tensor features) => LexicalVectors.Normalise(image_proj.call(adapter.call(features).mean(new long[] { 1 })));

    public TextReadout Readout { get; }

    /// <summary>False: d dense dimensions, no words.</summary>
    public bool HasWords => false;

    /// <summary>The embeddings as they are (already unit).</summary>
    public Tensor ForRetrieval(Tensor vectors) => vectors;

    /// <summary>Each patch's projection before normalising [B, N, d].</summary>
    public Tensor PatchScores(Tensor features) => image_proj.call(adapter.call(features));

    /// <summary>Caption embeddings [B, d].</summary>
    public Tensor EncodeTexts(IReadOnlyList<string> captions)
    {
        if (Readout == TextReadout.LastToken) return LexicalVectors.Normalise(text_proj.call(text.LastHidden(captions)));
        var (hidden, caption) = text.States(captions);
        var weights = caption.unsqueeze(-1).to(hidden.dtype);
        return LexicalVectors.Normalise(text_proj.call((hidden * weights).sum(1) / weights.sum(1).clamp_min(1)));
    }
}
