// Training sequences over the unified vocabulary (LaVIT §3.2: [IMG] and [/IMG] wrap the raster-order visual
// tokens; pairs are fed in both orders so one next-token objective teaches generation and understanding):
//   text → image   [BOS] caption [IMG] v1 … vL [/IMG] [EOS]     (caption dropped at the CFG rate: unconditional)
//   image → text   [BOS] [IMG] v1 … vL [/IMG] [CAP] caption [EOS]
//   VQA            [BOS] [IMG] v1 … vL [/IMG] [Q] question [A] answer [EOS]
//   text           [BOS] line [EOS]                               (keeps the language ability)
using Kit.Core;
using Kit.Data;
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>Kinds of training sequence.</summary>
public enum SequenceTask { TextToImage, ImageToText, Vqa, Text }

/// <summary>How often each kind of sequence is drawn (relative weights), and the unconditional rate for guidance.</summary>
public sealed record SequenceMix(double TextToImage = 1, double ImageToText = 1, double Vqa = 1, double Text = 0.25, double UnconditionalRate = 0.1)
{
    /// <summary>Text only (pretraining).</summary>
    public static SequenceMix TextOnly => new(0, 0, 0, 1, 0);

    /// <summary>Understanding only (captioning and VQA; for input-only visual interfaces).</summary>
    public static SequenceMix UnderstandingOnly => new(0, 1, 1, 0.25, 0);

    internal SequenceTask Draw(KitRandom rng)
    {
        double[] w = { TextToImage, ImageToText, Vqa, Text };
        double total = w.Sum(), u = rng.NextDouble() * total;
        for (int i = 0; i < w.Length; i++) { if (u < w[i]) return (SequenceTask)i; u -= w[i]; }
        return SequenceTask.Text;
    }
}

/// <summary>
/// Images as the language model sees them: their scenes, their codes [N, L] and, for continuous interfaces, features [N, L, F].
/// Images without scenes (Fashion-MNIST) come with one fixed caption each instead (<see cref="Captioned"/>): they make text → image and
/// image → text sequences, not VQA.
/// </summary>
public sealed record VisualCorpus(IReadOnlyList<ShapesScene> Scenes, Tensor Codes, Tensor? Features = null)
{
    /// <summary>One caption per image when the corpus has no scenes; null for Shapes.</summary>
    public IReadOnlyList<string>? Captions { get; private init; }

    /// <summary>Number of images.</summary>
    public int Count => Captions?.Count ?? Scenes.Count;

    /// <summary>Images described by one caption each ("a photo of a sneaker").</summary>
    public static VisualCorpus Captioned(IReadOnlyList<string> captions, Tensor codes) =>
        new(Array.Empty<ShapesScene>(), codes) { Captions = captions };

    /// <summary>The caption of image <paramref name="image"/>: its own, or its scene's in a phrasing drawn with <paramref name="rng"/>.</summary>
    internal string CaptionOf(int image, KitRandom rng) => Captions?[image] ?? Scenes[image].Caption(rng.Next(ShapesScene.CaptionTemplates));
}

/// <summary>
/// A padded batch. Targets are the next tokens; Weights (0 at padding) weight the cross-entropy per target;
/// VisualInput / VisualTarget mark positions whose input / target is a visual token; Images names the
/// corpus image of each row (−1: none).
/// </summary>
public sealed record SequenceBatch(Tensor Tokens, Tensor Targets, Tensor Weights, Tensor VisualInput, Tensor VisualTarget, long[] Images, SequenceTask[] Tasks) : IDisposable
{
    public void Dispose() { Tokens.Dispose(); Targets.Dispose(); Weights.Dispose(); VisualInput.Dispose(); VisualTarget.Dispose(); }
}

/// <summary>Builds the sequences above from a visual corpus and text lines.</summary>
public sealed class UnifiedSequences
{
    readonly UnifiedVocabulary _v;
    readonly VisualCorpus? _images;
    readonly IReadOnlyList<string> _text;
    readonly long[]? _codes;
    readonly Dictionary<string, int[]> _encoded = new();

    public UnifiedSequences(UnifiedVocabulary vocabulary, VisualCorpus? images, IReadOnlyList<string> textLines, SequenceMix mix)
    {
        _v = vocabulary;
        _images = images;
        _text = textLines;
        Mix = mix;
        if (images is not null)
        {
            if (images.Codes.dim() != 2 || images.Codes.shape[0] != images.Count || images.Codes.shape[1] != vocabulary.CodesPerImage)
                throw new ArgumentException($"codes must be [{images.Count}, {vocabulary.CodesPerImage}]; got [{string.Join(", ", images.Codes.shape)}].", nameof(images));
            _codes = images.Codes.cpu().data<long>().ToArray();
        }
        else if (mix.TextToImage + mix.ImageToText + mix.Vqa > 0)
            throw new ArgumentException("the mix asks for image sequences but no images were given.", nameof(images));
        if (images?.Captions is not null && mix.Vqa > 0)
            throw new ArgumentException($"Vqa={mix.Vqa}: questions come from scenes, and these images have captions only.", nameof(mix));
        if (mix.Text > 0 && textLines.Count == 0) throw new ArgumentException("the mix asks for text sequences but there are no text lines.", nameof(textLines));
    }

    /// <summary>
    /// Version of the sequence layout, part of every cached model's key: it changes whenever the same scenes would become
    /// different ids (2: answers encoded after a space, as the corpus shows them).
    /// </summary>
    public const int Format = 2;

    /// <summary>The task weights.</summary>
    public SequenceMix Mix { get; }

    int[] Text(string s) { if (!_encoded.TryGetValue(s, out var ids)) _encoded[s] = ids = _v.EncodeText(s); return ids; }

    IEnumerable<int> Image(int image)
    {
        yield return _v[SpecialToken.Img];
        for (int i = 0; i < _v.CodesPerImage; i++) yield return _v.CodeOffset + (int)_codes![image * _v.CodesPerImage + i];
        yield return _v[SpecialToken.EndImg];
    }

    /// <summary>
    /// An answer as the text corpus shows it, after its question and a space (" blue"): BPE gives a word a different
    /// id at the start of a text than after a space, and only the spaced form occurs in the corpus the ids were fitted on.
    /// </summary>
    public static string AnswerText(string answer) => " " + answer.Trim();

    /// <summary>[BOS] caption [IMG] — the prompt of text-to-image generation (empty caption: unconditional).</summary>
    public int[] TextToImagePrompt(string caption) => new[] { _v[SpecialToken.Bos] }.Concat(Text(caption)).Append(_v[SpecialToken.Img]).ToArray();

    /// <summary>[BOS] [IMG] codes [/IMG] [CAP] — the prompt of captioning.</summary>
    public int[] CaptionPrompt(IEnumerable<long> codes) => ImagePrefix(codes).Append(_v[SpecialToken.Caption]).ToArray();

    /// <summary>[BOS] [IMG] codes [/IMG] [Q] question [A] — the prompt of visual question answering.</summary>
    public int[] QuestionPrompt(IEnumerable<long> codes, string question) =>
        ImagePrefix(codes).Append(_v[SpecialToken.Question]).Concat(Text(question)).Append(_v[SpecialToken.Answer]).ToArray();

    IEnumerable<int> ImagePrefix(IEnumerable<long> codes) =>
        new[] { _v[SpecialToken.Bos], _v[SpecialToken.Img] }.Concat(codes.Select(c => _v.CodeId(c))).Append(_v[SpecialToken.EndImg]);

    /// <summary>One sequence of <paramref name="task"/> for corpus image <paramref name="image"/> (or text line, for Text).</summary>
    public int[] Build(SequenceTask task, int image, KitRandom rng)
    {
        var ids = new List<int> { _v[SpecialToken.Bos] };
        switch (task)
        {
            case SequenceTask.TextToImage:
                if (rng.NextDouble() >= Mix.UnconditionalRate) ids.AddRange(Text(_images!.CaptionOf(image, rng)));
                ids.AddRange(Image(image));
                break;
            case SequenceTask.ImageToText:
                ids.AddRange(Image(image));
                ids.Add(_v[SpecialToken.Caption]);
                ids.AddRange(Text(_images!.CaptionOf(image, rng)));
                break;
            case SequenceTask.Vqa:
                var questions = _images!.Scenes[image].Questions();
                var qa = questions[rng.Next(questions.Count)];
                ids.AddRange(Image(image));
                ids.Add(_v[SpecialToken.Question]);
                ids.AddRange(Text(qa.Question));
                ids.Add(_v[SpecialToken.Answer]);
                ids.AddRange(Text(AnswerText(qa.Answer)));
                break;
            default:
                ids.AddRange(Text(_text[image]));
                break;
        }
        ids.Add(_v[SpecialToken.Eos]);
        return ids.ToArray();
    }

    /// <summary>A batch drawn with <paramref name="rng"/>: tasks by the mix, images and lines uniformly.</summary>
    public SequenceBatch Sample(int batchSize, KitRandom rng, double imageLossWeight = 1.0, double? givenImageLossWeight = null)
    {
        var tasks = new SequenceTask[batchSize];
        var images = new long[batchSize];
        var sequences = new int[batchSize][];
        for (int b = 0; b < batchSize; b++)
        {
            tasks[b] = Mix.Draw(rng);
            int index = tasks[b] == SequenceTask.Text ? rng.Next(_text.Count) : rng.Next(_images!.Count);
            images[b] = tasks[b] == SequenceTask.Text ? -1 : index;
            sequences[b] = Build(tasks[b], index, rng);
        }
        return Pack(sequences, images, tasks, imageLossWeight, givenImageLossWeight);
    }

    /// <summary>Right-pads <paramref name="sequences"/> into one batch.</summary>
    public SequenceBatch Pack(IReadOnlyList<int[]> sequences, long[] images, SequenceTask[] tasks, double imageLossWeight = 1.0, double? givenImageLossWeight = null)
    {
        if (tasks.Length != sequences.Count || images.Length != sequences.Count)
            throw new ArgumentException($"{sequences.Count} sequences need as many tasks and images; got {tasks.Length} tasks and {images.Length} images.", nameof(tasks));
        int b = sequences.Count, t = sequences.Max(s => s.Length) - 1; // inputs drop the last token, targets the first
        var tokens = new long[b * t]; var targets = new long[b * t]; var weights = new float[b * t];
        var visualIn = new bool[b * t]; var visualOut = new bool[b * t];
        Array.Fill(tokens, _v[SpecialToken.Pad]); Array.Fill(targets, _v[SpecialToken.Pad]);
        for (int row = 0; row < b; row++)
        {
            var s = sequences[row];
            // Image → text and VQA rows are given their image; text → image rows are asked for it.
            bool given = tasks[row] is SequenceTask.ImageToText or SequenceTask.Vqa;
            float imageWeight = (float)(given ? givenImageLossWeight ?? imageLossWeight : imageLossWeight);
            for (int i = 0; i < s.Length - 1; i++)
            {
                int k = row * t + i;
                tokens[k] = s[i]; targets[k] = s[i + 1];
                visualIn[k] = s[i] >= _v.CodeOffset;
                visualOut[k] = s[i + 1] >= _v.CodeOffset;
                weights[k] = visualOut[k] ? imageWeight : 1f;
            }
        }
        long[] shape = { b, t };
        return new SequenceBatch(tensor(tokens, shape), tensor(targets, shape), tensor(weights, shape), tensor(visualIn, shape), tensor(visualOut, shape), images, tasks);
    }
}
