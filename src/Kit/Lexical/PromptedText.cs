// The text side of both LexVLA and its dense baseline: the kit's text-pretrained GPT, prompted so that its next-token
// prediction is about the caption's content, read at the prompt's last position. LexVLA asks Llama to *predict* the
// words describing a caption rather than merely encode it; the kit's prompt is "[BOS] {caption}. what is in the
// picture?", whose words all occur in the corpus the GPT learnt from. Its last blocks and the final norm are fine-tuned
// (the kit's choice in place of LoRA; how many is the experiment's TextBlocks), so the embedding table — the text
// codebook — stays as text pretraining left it.
using Kit.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>A copy of a text-pretrained GPT whose last hidden state of a prompted caption is the text feature.</summary>
public sealed class PromptedText : nn.Module
{
    readonly Gpt gpt;

    /// <summary>The prompt after the caption.</summary>
    public const string Suffix = ". what is in the picture?";

    /// <param name="pretrained">The text-pretrained model; its weights are copied, it is never changed.</param>
    /// <param name="vocabulary">Its vocabulary (for [BOS] and the padding id).</param>
    /// <param name="tunedBlocks">How many of its last transformer blocks are fine-tuned (with the final norm); the rest and
    /// the embedding table stay frozen.</param>
    public PromptedText(Gpt pretrained, UnifiedVocabulary vocabulary, int tunedBlocks = 1) : base(nameof(PromptedText))
    {
        int layers = pretrained.Config.Layers;
        if (tunedBlocks < 1 || tunedBlocks > layers)
            throw new ArgumentOutOfRangeException(nameof(tunedBlocks), tunedBlocks, $"expected 1…{layers} (the text model's blocks).");
        Vocabulary = vocabulary;
        TunedBlocks = tunedBlocks;
        gpt = new Gpt(pretrained.Config);
        gpt.load_state_dict(pretrained.state_dict());
        RegisterComponents();
        var tuned = Enumerable.Range(layers - tunedBlocks, tunedBlocks).Select(i => $"h.{i}.").Append("ln_f.").ToArray();
        foreach (var (name, p) in gpt.named_parameters()) p.requires_grad = tuned.Any(prefix => name.StartsWith(prefix,
            StringComparison.Ordinal));
    }

    /// <summary>The fine-tuned last blocks.</summary>
    public int TunedBlocks { get; }

    public UnifiedVocabulary Vocabulary { get; }

    /// <summary>The model's width.</summary>
    public int Dim => gpt.Config.Dim;

    /// <summary>The embedding rows of <paramref name="ids"/> [V] as a constant [V, D] (LexVLA's frozen Z_txt).</summary>
    public Tensor EmbeddingRows(Tensor ids)
    {
        using var noGrad = no_grad();
        return gpt.TokenEmbeddings.index_select(0, ids.to(gpt.TokenEmbeddings.device)).clone();
    }

    /// <summary>The prompt's ids for <paramref name="caption"/>: [BOS], the caption's own ids, then the suffix's.</summary>
    public int[] Prompt(string caption)
        => new[] { Vocabulary[SpecialToken.Bos] }.Concat(Vocabulary.EncodeText(caption)).Concat(Vocabulary.EncodeText(Suffix)).ToArray();

    /// <summary>Hidden state [B, D] at the last prompt position of each caption (left-padded into one batch).</summary>
    public Tensor LastHidden(IReadOnlyList<string> captions)
    {
        var (hidden, _) = States(captions);
        return hidden.select(1, hidden.shape[1] - 1);
    }

    /// <summary>
    /// Hidden states [B, T, D] of the prompts, left-padded into one batch, and which positions hold the caption's own
    /// tokens [B, T] (not [BOS], the suffix or padding).
    /// </summary>
    public (Tensor Hidden, Tensor Caption) States(IReadOnlyList<string> captions)
    {
        if (captions.Count == 0) throw new ArgumentException("expected at least one caption.", nameof(captions));
        var prompts = captions.Select(Prompt).ToList();
        int suffix = Vocabulary.EncodeText(Suffix).Length;
        int t = prompts.Max(p => p.Length), b = prompts.Count;
        var ids = new long[b * t];
        var real = new bool[b * t];
        var caption = new bool[b * t];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < t; j++)
            {
                int k = j - (t - prompts[i].Length);
                ids[i * t + j] = k >= 0 ? prompts[i][k] : Vocabulary[SpecialToken.Pad];
                real[i * t + j] = k >= 0;
                caption[i * t + j] = k >= 1 && k < prompts[i].Length - suffix;
            }
        var device = gpt.TokenEmbeddings.device;
        var tokens = tensor(ids, new long[] { b, t }, device: device);
        var mask = tensor(real, new long[] { b, t }, device: device);
        bool padded = prompts.Any(p => p.Length < t);
        return (gpt.Hidden(gpt.Embed(tokens), keyMask: padded ? mask : null), tensor(caption, new long[] { b, t }, device: device));
    }
}
