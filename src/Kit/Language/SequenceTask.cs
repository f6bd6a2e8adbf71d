// A kind of training sequence as an object: it knows what it draws from (images or text lines), how it lays out one
// sequence, and whether the image it holds is given to the model (its codes are context, weighted as such) or asked of
// it. A new task — UniCode's in-context decompression, say — is one new class, added to a mix; nothing else changes.
using Kit.Core;

namespace Kit.Language;

/// <summary>One kind of training sequence.</summary>
public abstract class SequenceTask
{
    /// <summary>The task's name (tables, logs, the cache key of the models trained on it).</summary>
    public abstract string Name { get; }

    /// <summary>True when the task draws images (the corpus must have them); false when it draws text lines.</summary>
    public virtual bool DrawsImages => true;

    /// <summary>
    /// True when the sequence gives its image to the model (image → text, VQA): the codes are context, weighted by the
    /// "given image" loss weight; false when it asks for the image (text → image), weighted by the image loss weight.
    /// </summary>
    public virtual bool ImageIsGiven => false;

    /// <summary>
    /// Whether the <paramref name="block"/>-th image block of a sequence (0 = the first [IMG] … [/IMG]) is given or asked
    /// for: <see cref="ImageIsGiven"/> for every block unless a task holds both kinds (UniCode's decompression).
    /// </summary>
    public virtual bool BlockIsGiven(int block) => ImageIsGiven;

    /// <summary>Checks that <paramref name="sequences"/> can build this task (e.g. VQA needs scenes); throws ArgumentException naming what
    /// is missing.</summary>
    public virtual void Check(UnifiedSequences sequences) { }

    /// <summary>The ids of one sequence for item <paramref name="item"/> (an image, or a text line), drawing choices from
    /// <paramref name="rng"/>.</summary>
    public abstract TokenSequence Build(UnifiedSequences sequences, int item, KitRandom rng);

    public override string ToString() => Name;
}

/// <summary>The tasks of a training run, each with a relative weight, and the unconditional rate for guidance.</summary>
/// <param name="Tasks">The tasks and their weights, drawn in proportion.</param>
/// <param name="UnconditionalRate">Share of text → image rows whose caption is dropped (classifier-free guidance).</param>
public sealed record SequenceMix(IReadOnlyList<(SequenceTask Task, double Weight)> Tasks, double UnconditionalRate = 0.1)
{
    /// <summary>The four standard tasks: text → image, image → text, VQA and text, with these weights.</summary>
    public static SequenceMix Standard(double textToImage = 1, double imageToText = 1, double vqa = 1, double text = 0.25,
        double unconditionalRate = 0.1) =>
        new(new (SequenceTask, double)[]
        {
            (SequenceTasks.TextToImage, textToImage), (SequenceTasks.ImageToText, imageToText), (SequenceTasks.Vqa,
                vqa), (SequenceTasks.Text, text),
        }.Where(t => t.Item2 > 0).ToList(), unconditionalRate);

    /// <summary>Text only (pretraining).</summary>
    public static SequenceMix TextOnly => Standard(0, 0, 0, 1, 0);

    /// <summary>Understanding only (captioning and VQA; for input-only visual interfaces).</summary>
    public static SequenceMix UnderstandingOnly => Standard(0, 1, 1, 0.25, 0);

    /// <summary>Text → image only (a code prior).</summary>
    public static SequenceMix TextToImageOnly => Standard(1, 0, 0, 0);

    /// <summary>This mix with one more task.</summary>
    public SequenceMix With(SequenceTask task, double weight) => this with { Tasks = Tasks.Append((task, weight)).ToList() };

    /// <summary>The weight of the task named <paramref name="name"/> (0 when the mix lacks it).</summary>
    public double WeightOf(string name) => Tasks.Where(t => t.Task.Name == name).Sum(t => t.Weight);

    /// <summary>True when some task of positive weight draws images.</summary>
    public bool NeedsImages => Tasks.Any(t => t.Weight > 0 && t.Task.DrawsImages);

    /// <summary>The cache key's view of the mix: each task's name and weight, and the unconditional rate.</summary>
    public string Key => string.Join(", ",
        Tasks.Select(t => $"{t.Task.Name}={t.Weight.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}")) +
        $"; unconditional={UnconditionalRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}";

    internal SequenceTask Draw(KitRandom rng)
    {
        double total = Tasks.Sum(t => t.Weight), u = rng.NextDouble() * total;
        foreach (var (task, weight) in Tasks) { if (u < weight) return task; u -= weight; }
        return Tasks[^1].Task;
    }
}
