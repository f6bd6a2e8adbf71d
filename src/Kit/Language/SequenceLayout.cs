// The one owner of how a unified sequence is laid out: special tokens, text, an image's codes inside [IMG] … [/IMG],
// and a given image shown compressed (UniCode's stacked codes: one position per D codes). A sequence is built segment
// by segment and keeps which positions are compressed beside its ids, so no id ever stands for anything but a token.

namespace Kit.Language;

/// <summary>
/// A sequence as the model reads it: its ids, and for each position the compressed position p of the row's image it
/// shows (−1 elsewhere). A compressed position's id is the padding id; the model reads the aggregate of the image's D
/// codes there, and it is never a target.
/// </summary>
public sealed record TokenSequence(int[] Ids, int[] Compressed)
{
    /// <summary>Number of positions.</summary>
    public int Length => Ids.Length;

    /// <summary>Whether any position shows a compressed image.</summary>
    public bool HasCompressed => Compressed.Any(p => p >= 0);
}

/// <summary>Builds one sequence segment by segment, in a vocabulary's layout.</summary>
public sealed class SequenceBuilder
{
    readonly SequenceLayout layout;
    readonly List<int> ids = new();
    readonly List<int> compressed = new();

    internal SequenceBuilder(SequenceLayout layout) => this.layout = layout;

    /// <summary>A special token.</summary>
    public SequenceBuilder Special(SpecialToken token) => Add(layout.Vocabulary[token]);

    /// <summary>The text ids of <paramref name="text"/>.</summary>
    public SequenceBuilder Text(string text)
    {
        foreach (var id in layout.Encode(text)) Add(id);
        return this;
    }

    /// <summary>[IMG] the ids of <paramref name="codes"/> [/IMG].</summary>
    public SequenceBuilder Image(IEnumerable<long> codes)
    {
        Special(SpecialToken.Img);
        foreach (var c in codes) Add(layout.Vocabulary.CodeId(c));
        return Special(SpecialToken.EndImg);
    }

    /// <summary>[IMG], <paramref name="positions"/> compressed positions of the row's image, [/IMG].</summary>
    public SequenceBuilder CompressedImage(int positions)
    {
        Special(SpecialToken.Img);
        for (int p = 0; p < positions; p++) Add(layout.Vocabulary[SpecialToken.Pad], p);
        return Special(SpecialToken.EndImg);
    }

    /// <summary>An image as a sequence gives it to the model: its codes (D = 1), or compressed, one position per D codes.</summary>
    public SequenceBuilder GivenImage(IReadOnlyList<long> codes, int depth)
        => depth == 1 ? Image(codes) : CompressedImage(codes.Count / depth);

    /// <summary>The sequence built so far.</summary>
    public TokenSequence Build() => new(ids.ToArray(), compressed.ToArray());

    SequenceBuilder Add(int id, int compressedPosition = -1)
    {
        ids.Add(id);
        compressed.Add(compressedPosition);
        return this;
    }
}

/// <summary>A vocabulary's sequence layout: builders and the prompts of captioning, VQA and text → image.</summary>
public sealed class SequenceLayout
{
    readonly Dictionary<string, int[]> encoded = new();

    /// <summary>The layout of <paramref name="vocabulary"/>.</summary>
    public SequenceLayout(UnifiedVocabulary vocabulary) => Vocabulary = vocabulary;

    /// <summary>The vocabulary the ids come from.</summary>
    public UnifiedVocabulary Vocabulary { get; }

    /// <summary>Text ids of <paramref name="text"/> (cached: captions and questions repeat).</summary>
    public int[] Encode(string text)
    {
        if (!encoded.TryGetValue(text, out var ids)) encoded[text] = ids = Vocabulary.EncodeText(text);
        return ids;
    }

    /// <summary>A new sequence, starting empty.</summary>
    public SequenceBuilder Begin() => new(this);

    /// <summary>
    /// An answer as the text corpus shows it, after its question and a space (" blue"): BPE gives a word a different
    /// id at the start of a text than after a space, and only the spaced form occurs in the corpus the ids were fitted on.
    /// </summary>
    public static string AnswerText(string answer) => " " + answer.Trim();

    /// <summary>[BOS] caption [IMG] — the prompt of text-to-image generation (empty caption: unconditional).</summary>
    public TokenSequence TextToImagePrompt(string caption)
        => Begin().Special(SpecialToken.Bos).Text(caption).Special(SpecialToken.Img).Build();

    /// <summary>[BOS] given image [CAP] — the prompt of captioning.</summary>
    public TokenSequence CaptionPrompt(IReadOnlyList<long> codes, int depth = 1) =>
        Begin().Special(SpecialToken.Bos).GivenImage(codes, depth).Special(SpecialToken.Caption).Build();

    /// <summary>[BOS] given image [Q] question [A] — the prompt of visual question answering.</summary>
    public TokenSequence QuestionPrompt(IReadOnlyList<long> codes, string question, int depth = 1) =>
        Begin().Special(SpecialToken.Bos).GivenImage(codes,
            depth).Special(SpecialToken.Question).Text(question).Special(SpecialToken.Answer).Build();
}
