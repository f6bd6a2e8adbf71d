// LexVLA's text side: the prompted GPT's last hidden state scored against the frozen text codebook Z_txt (the GPT's own
// embedding rows of the lexicon's ids: with tied embeddings these are exactly its next-token logits over the lexicon,
// so before any fine-tuning the vector already says which words the model expects next) → ELU1p → normalise.
// The other readout scores every caption position the same way and max-pools over them, as the image side max-pools
// its patches (SPLADE's pooling over a sentence): a word is present when some position of the caption predicts it.
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Which hidden states of the prompted GPT a caption's vector is read from.</summary>
public enum TextReadout
{
    /// <summary>The prompt's last position (LexVLA's): what the model predicts after the prompt.</summary>
    LastToken,
    /// <summary>Every position of the caption's own tokens, pooled: lexical vectors max-pool their scores, dense ones average the
    /// states.</summary>
    CaptionPooled,
}

/// <summary>Captions → lexical vectors over a <see cref="Lexicon"/>.</summary>
public sealed class LexicalTextEncoder : nn.Module
{
    readonly PromptedText text;
    readonly Tensor codebook;

    public LexicalTextEncoder(PromptedText text, Lexicon lexicon,
        TextReadout readout = TextReadout.LastToken) : base(nameof(LexicalTextEncoder))
    {
        this.text = text;
        Readout = readout;
        codebook = text.EmbeddingRows(lexicon.IdTensor());
        RegisterComponents();   // the codebook is a buffer: it moves with the module and is never trained
    }

    /// <summary>Z_txt [V, D], frozen.</summary>
    public Tensor Codebook => codebook;

    public TextReadout Readout { get; }

    /// <summary>Lexical vectors [B, V] of <paramref name="captions"/> (normalised, not sparsified).</summary>
    public Tensor Encode(IReadOnlyList<string> captions)
    {
        if (Readout == TextReadout.LastToken) return LexicalVectors.Normalise(LexicalVectors.Elu1p(text.LastHidden(captions)
            .MatmulChecked(codebook.t())));
        var (hidden, caption) = text.States(captions);
        // ELU1p is positive, so a position outside the caption set to 0 never wins the max.
        var scores = LexicalVectors.Elu1p(hidden.MatmulChecked(codebook.t())) * caption.unsqueeze(-1).to(hidden.dtype);
        return LexicalVectors.Normalise(LexicalVectors.MaxPool(scores));
    }
}
