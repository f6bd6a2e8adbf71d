// LexVLA's model: images and captions onto one lexicon. The text side is either the prompted language model (LexVLA's)
// or the bag-of-words baseline, which takes a caption's own content words as its vector and learns nothing.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Where a caption's lexical vector comes from.</summary>
public enum TextTarget
{
    /// <summary>The prompted GPT's next-word prediction over the lexicon (LexVLA's).</summary>
    LanguageModel,
    /// <summary>The caption's content words, one each (the BoW baseline).</summary>
    BagOfWords,
}

/// <summary>The image encoder and the text side over one lexicon.</summary>
public sealed class LexicalDualEncoder : nn.Module, IDualEncoder
{
    readonly LexicalImageEncoder image;
    readonly LexicalTextEncoder? text;

    /// <param name="featureDim">Width of the backbone's patch features.</param>
    /// <param name="lexicon">The vocabulary both sides score.</param>
    /// <param name="prompted">The prompted GPT: its embedding rows are the codebooks; with <see cref="TextTarget.LanguageModel"/> it is
    /// also the text encoder.</param>
    /// <param name="readout">Which of the GPT's states the LM text side reads.</param>
    public LexicalDualEncoder(int featureDim, Lexicon lexicon, PromptedText prompted, TextTarget target,
        TextReadout readout = TextReadout.LastToken) : base(nameof(LexicalDualEncoder))
    {
        Lexicon = lexicon;
        Target = target;
        var textEncoder = new LexicalTextEncoder(prompted, lexicon, readout);
        image = new LexicalImageEncoder(featureDim, textEncoder.Codebook);
        text = target == TextTarget.LanguageModel ? textEncoder : null;
        RegisterComponents();
    }

    public Lexicon Lexicon { get; }
    public TextTarget Target { get; }
    public LexicalImageEncoder Image => image;

    /// <summary>True: the vectors are over the lexicon's words.</summary>
    public bool HasWords => true;

    /// <summary>Lexical vectors after the 1/√V cut, normalised again [B, V].</summary>
    public Tensor ForRetrieval(Tensor vectors) => LexicalVectors.Normalise(LexicalVectors.Sparsify(vectors));

    /// <summary>Each patch's word scores [B, N, V] (ELU + 1 of the adapted patch against each word's row).</summary>
    public Tensor PatchScores(Tensor features) => image.PatchScores(features);

    /// <summary>Image lexical vectors [B, V] (normalised, not sparsified).</summary>
    public Tensor EncodeImages(Tensor features) => image.Encode(features);

    /// <summary>Caption lexical vectors [B, V] (normalised, not sparsified).</summary>
    public Tensor EncodeTexts(IReadOnlyList<string> captions)
    {
        if (text is not null) return text.Encode(captions);
        var device = image.Codebook.device;
        var bags = captions.Select(Lexicon.BagOfWords).ToList();
        var flat = bags.SelectMany(b => b).ToArray();
        // A caption with no content word has an all-zero bag, which normalises to zero: it matches nothing.
        return LexicalVectors.Normalise(tensor(flat, new long[] { bags.Count, Lexicon.Count }, device: device));
    }
}
