// LexVLA's text side: the prompted GPT's last hidden state scored against the frozen text codebook Z_txt (the GPT's own
// embedding rows of the lexicon's ids: with tied embeddings these are exactly its next-token logits over the lexicon,
// so before any fine-tuning the vector already says which words the model expects next) → ELU1p → normalise.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Captions → lexical vectors over a <see cref="Lexicon"/>.</summary>
public sealed class LexicalTextEncoder : nn.Module
{
    readonly PromptedText text;
    readonly Tensor codebook;

    public LexicalTextEncoder(PromptedText text, Lexicon lexicon) : base(nameof(LexicalTextEncoder))
    {
        this.text = text;
        codebook = text.EmbeddingRows(lexicon.IdTensor());
        RegisterComponents();   // the codebook is a buffer: it moves with the module and is never trained
    }

    /// <summary>Z_txt [V, D], frozen.</summary>
    public Tensor Codebook => codebook;

    /// <summary>Lexical vectors [B, V] of <paramref name="captions"/> (normalised, not sparsified).</summary>
    public Tensor Encode(IReadOnlyList<string> captions) => LexicalVectors.Normalise(LexicalVectors.Elu1p(text.LastHidden(captions).matmul(codebook.t())));
}
