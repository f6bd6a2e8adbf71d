// Training sequences over the unified vocabulary, built by the mix's tasks (SequenceTasks: text → image, image → text,
// VQA, text; UniCode's decompression), padded into batches whose visual positions are those inside [IMG] … [/IMG]
// spans, whatever the ids (the shared layout gives codes text ids). An image takes as many codes as its tokenizer gave it.
using Kit.Core;
using Kit.Data;
using Kit.Tokenizers;
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>
/// What one image says in words: a caption (drawn among its phrasings with the sequence's generator) and its
/// question–answer pairs (null when it has none: a captioned dataset such as Fashion-MNIST makes no VQA rows).
/// </summary>
public sealed record VisualItem(Func<KitRandom, string> Caption, Func<IReadOnlyList<QuestionAnswer>>? Questions = null)
{
    /// <summary>A Shapes scene: one of its caption phrasings, and its questions.</summary>
    public static VisualItem Of(ShapesScene scene) => new(rng => scene.Caption(rng.Next(ShapesScene.CaptionTemplates)), scene.Questions);

    /// <summary>An image described by one fixed caption ("a photo of a sneaker").</summary>
    public static VisualItem Captioned(string caption) => new(_ => caption);
}

/// <summary>
/// Images as the language model sees them: one item each (captions, questions) from any dataset, their codes (any
/// number per image) and, for continuous interfaces, features [N, L, F].
/// </summary>
public sealed record VisualCorpus(IReadOnlyList<VisualItem> Items, VisualCodes Codes, Tensor? Features = null)
{
    /// <summary>Shapes scenes with their codes.</summary>
    public VisualCorpus(IReadOnlyList<ShapesScene> scenes, VisualCodes codes, Tensor? features = null)
        : this(scenes.Select(VisualItem.Of).ToList(), codes, features) { }

    /// <summary>Number of images.</summary>
    public int Count => Items.Count;

    /// <summary>Whether every image has questions (VQA rows can be built).</summary>
    public bool HasQuestions => Items.All(i => i.Questions is not null);

    /// <summary>Images described by one caption each ("a photo of a sneaker").</summary>
    public static VisualCorpus Captioned(IReadOnlyList<string> captions, VisualCodes codes)
        => new(captions.Select(VisualItem.Captioned).ToList(), codes);

    /// <summary>
    /// D, the codes per code-map position (a stacked tokenizer's codes, layers innermost: position p holds codes
    /// p·D … p·D + D − 1); 1 for one code per position. A given image is then shown compressed, one position per D codes.
    /// </summary>
    public int Depth { get; init; } = 1;

    /// <summary>The caption of image <paramref name="image"/>, its phrasing drawn with <paramref name="rng"/> when it has
    /// several.</summary>
    internal string CaptionOf(int image, KitRandom rng) => Items[image].Caption(rng);
}

/// <summary>
/// A padded batch. Targets are the next tokens; Weights (0 at padding) weight the cross-entropy per target;
/// VisualInput / VisualTarget mark positions whose input / target lies inside an image block; Images names the
/// corpus image of each row (−1: none); Stacks [B, T, D] (stacked codes only) holds the D code ids of each compressed
/// image position, −1 elsewhere.
/// </summary>
public sealed record SequenceBatch(Tensor Tokens, Tensor Targets, Tensor Weights, Tensor VisualInput, Tensor VisualTarget, long[] Images,
    SequenceTask[] Tasks,
    Tensor? Stacks = null) : IDisposable
{
    public void Dispose()
    {
        Tokens.Dispose(); Targets.Dispose(); Weights.Dispose(); VisualInput.Dispose(); VisualTarget.Dispose(); Stacks?.Dispose();
    }
}

/// <summary>Builds sequences from a visual corpus and text lines by the tasks of a mix.</summary>
public sealed class UnifiedSequences
{
    readonly long[][]? _codes;

    public UnifiedSequences(UnifiedVocabulary vocabulary, VisualCorpus? images, IReadOnlyList<string> textLines, SequenceMix mix)
    {
        Vocabulary = vocabulary;
        Layout = new SequenceLayout(vocabulary);
        Images = images;
        TextLines = textLines;
        Mix = mix;
        if (images is not null)
        {
            if (images.Codes.Count != images.Count)
                throw new ArgumentException($"{images.Codes.Count} rows of codes for {images.Count} images.", nameof(images));
            _codes = images.Codes.Rows();
            if (images.Depth < 1) throw new ArgumentException($"Depth={images.Depth}: expected ≥ 1 code per position.", nameof(images));
            foreach (var row in _codes)
                if (row.Length % images.Depth != 0)
                    throw new ArgumentException($"an image of {row.Length} codes cannot hold D={images.Depth} codes per position.",
                        nameof(images));
            foreach (var row in _codes)
                foreach (var code in row)
                    if (code < 0 || code >= vocabulary.CodebookSize)
                        throw new ArgumentException($"visual code {code} is outside the vocabulary's {vocabulary.CodebookSize} codes.",
                            nameof(images));
        }
        else if (mix.NeedsImages)
            throw new ArgumentException($"the mix ({mix.Key}) asks for image sequences but no images were given.", nameof(images));
        if (mix.Tasks.Any(t => t.Weight > 0 && !t.Task.DrawsImages) && textLines.Count == 0)
            throw new ArgumentException("the mix asks for text sequences but there are no text lines.", nameof(textLines));
        foreach (var (task, weight) in mix.Tasks) if (weight > 0) task.Check(this);
    }

    /// <summary>The vocabulary the ids come from.</summary>
    public UnifiedVocabulary Vocabulary { get; }
    /// <summary>How sequences are laid out in it (tasks build through it).</summary>
    public SequenceLayout Layout { get; }
    /// <summary>The images (null: text only).</summary>
    public VisualCorpus? Images { get; }
    /// <summary>The text lines.</summary>
    public IReadOnlyList<string> TextLines { get; }
    /// <summary>The tasks and their weights.</summary>
    public SequenceMix Mix { get; }

    /// <summary>D, the images' codes per position (1 without images).</summary>
    public int Depth => Images?.Depth ?? 1;

    /// <summary>The codes of corpus image <paramref name="image"/>.</summary>
    public IReadOnlyList<long> CodesOf(int image) => _codes![image];

    /// <summary>Adds corpus image <paramref name="image"/> as given to the model: its codes, or compressed when D &gt; 1.</summary>
    public SequenceBuilder GivenImage(SequenceBuilder sequence, int image) => sequence.GivenImage(_codes![image], Depth);

    /// <summary>One sequence of <paramref name="task"/> for item <paramref name="item"/> (a corpus image, or a text line).</summary>
    public TokenSequence Build(SequenceTask task, int item, KitRandom rng) => task.Build(this, item, rng);

    /// <summary>A batch drawn with <paramref name="rng"/>: tasks by the mix, images and lines uniformly.</summary>
    public SequenceBatch Sample(int batchSize, KitRandom rng, double imageLossWeight = 1.0, double? givenImageLossWeight = null)
    {
        var tasks = new SequenceTask[batchSize];
        var images = new long[batchSize];
        var sequences = new TokenSequence[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            tasks[b] = Mix.Draw(rng);
            int index = tasks[b].DrawsImages ? rng.Next(Images!.Count) : rng.Next(TextLines.Count);
            images[b] = tasks[b].DrawsImages ? index : -1;
            sequences[b] = Build(tasks[b], index, rng);
        }
        return Pack(sequences, images, tasks, imageLossWeight, givenImageLossWeight);
    }

    /// <summary>
    /// Right-pads <paramref name="sequences"/> into one batch; visual positions are those inside [IMG] … [/IMG]. A compressed
    /// position takes its row's image's D codes into Stacks (its id is the padding id) and is never a target (weight 0: the
    /// model is given it).
    /// </summary>
    public SequenceBatch Pack(IReadOnlyList<TokenSequence> sequences, long[] images, SequenceTask[] tasks, double imageLossWeight = 1.0,
        double? givenImageLossWeight = null)
    {
        if (tasks.Length != sequences.Count || images.Length != sequences.Count)
            throw new ArgumentException($"{sequences.Count} sequences need as many tasks and images; got {tasks.Length} tasks and " +
                $"{images.Length} images.", nameof(tasks));
        int b = sequences.Count, t = sequences.Max(q => q.Length) - 1; // inputs drop the last token, targets the first
        var tokens = new long[b * t]; var targets = new long[b * t]; var weights = new float[b * t];
        var visualIn = new bool[b * t]; var visualOut = new bool[b * t];
        int pad = Vocabulary[SpecialToken.Pad], open = Vocabulary[SpecialToken.Img], close = Vocabulary[SpecialToken.EndImg];
        Array.Fill(tokens, pad); Array.Fill(targets, pad);
        int depth = Depth;
        long[]? stacks = sequences.Any(q => q.HasCompressed) ? new long[b * t * depth] : null;
        if (stacks is not null) Array.Fill(stacks, -1L);
        for (int row = 0; row < b; row++)
        {
            var (s, compressed) = (sequences[row].Ids, sequences[row].Compressed);
            var inside = InsideImage(s, open, close);
            float given = (float)(givenImageLossWeight ?? imageLossWeight), asked = (float)imageLossWeight;
            int block = -1; // the image block the target lies in (each [IMG] opens the next)
            for (int i = 0; i < s.Length - 1; i++)
            {
                int k = row * t + i;
                tokens[k] = s[i];
                targets[k] = s[i + 1];
                if (compressed[i] >= 0) Aggregated(stacks!, k, depth, images[row], compressed[i]);
                visualIn[k] = inside[i];
                visualOut[k] = inside[i + 1];
                if (s[i] == open) block++;
                weights[k] = compressed[i + 1] >= 0 ? 0f : visualOut[k] ? (tasks[row].BlockIsGiven(block) ? given : asked) : 1f;
            }
        }
        long[] shape = { b, t };
        return new SequenceBatch(tensor(tokens, shape), tensor(targets, shape), tensor(weights, shape), tensor(visualIn, shape),
            tensor(visualOut, shape), images, tasks,
            stacks is null ? null : tensor(stacks, new long[] { b, t, depth }));
    }

    // The D code ids (vocabulary ids) of position p of corpus image `image` into row-position k of the stacks.
    void Aggregated(long[] stacks, int k, int depth, long image, int p)
    {
        if (image < 0 || _codes is null) throw new ArgumentException("a compressed image position needs its row's corpus image.", "images");
        var codes = _codes[image];
        if ((p + 1) * depth > codes.Length) throw new ArgumentException($"compressed position {p} is past image {image}'s " +
            $"{codes.Length / depth} positions.", "sequences");
        for (int j = 0; j < depth; j++) stacks[k * depth + j] = Vocabulary.CodeId(codes[p * depth + j]);
    }

    /// <summary>Which ids of one sequence lie strictly inside an [IMG] … [/IMG] span.</summary>
    public static bool[] InsideImage(IReadOnlyList<int> ids, int open, int close)
    {
        var inside = new bool[ids.Count];
        bool within = false;
        for (int i = 0; i < ids.Count; i++)
        {
            if (ids[i] == open) { within = true; continue; }
            if (ids[i] == close) { within = false; continue; }
            inside[i] = within;
        }
        return inside;
    }
}
