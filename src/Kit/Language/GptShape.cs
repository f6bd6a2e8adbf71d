// A GPT's shape apart from its vocabulary: a recipe names depth, heads, width and context, and the model is that shape
// over whichever vocabulary the corpus and the tokenizer give (each modality with its own softmax).
namespace Kit.Language;

/// <summary>Depth, heads, width and context of a GPT.</summary>
public sealed record GptShape(int Layers, int Heads, int Dim, int ContextLength)
{
    /// <summary>
    /// The GPT config of this shape over <paramref name="vocabulary"/>: its size, and visual codes with a softmax of their own
    /// (or, with <paramref name="visualSoftmax"/> false, one softmax over every id, as a prior over codes alone has).
    /// </summary>
    public GptConfig Over(UnifiedVocabulary vocabulary, bool visualSoftmax = true) =>
        new(VocabSize: vocabulary.Count, ContextLength: ContextLength, Layers: Layers, Heads: Heads, Dim: Dim,
            VisualCodesFrom: visualSoftmax ? vocabulary.CodeOffset : null);
}
