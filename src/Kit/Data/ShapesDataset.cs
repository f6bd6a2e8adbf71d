// Shapes: procedural scenes with captions, masks, attributes and QA pairs, deterministic from
// (seed, split, index). Needs nothing installed, renders at any resolution, and carries every
// experiment of the kit: foreground selection, word-level alignment, compositional generation.
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Data;

/// <summary>Options of the Shapes dataset; every knob has a default.</summary>
/// <param name="Resolution">Image side in pixels (≥ 12; 32, 64 and 128 are the usual choices).</param>
/// <param name="MinObjects">Fewest objects per scene (1–3).</param>
/// <param name="MaxObjects">Most objects per scene (MinObjects–3).</param>
/// <param name="Background">Plain black, or light grey noise.</param>
/// <param name="Seed">Changes every scene; the split of a scene never depends on it.</param>
public sealed record ShapesOptions(int Resolution = 32, int MinObjects = 1, int MaxObjects = 3,
    ShapesBackground Background = ShapesBackground.Plain, long Seed = 0)
{
    /// <summary>Throws ArgumentException naming the bad option.</summary>
    public ShapesOptions Validate()
    {
        if (Resolution < 12
            || Resolution > 1024) throw new ArgumentException($"Resolution={Resolution} is out of range: expected 12–1024 pixels (32, " +
                $"64, 128 typical).", nameof(Resolution));
        if (MinObjects < 1 || MinObjects > 3) throw new ArgumentException($"MinObjects={MinObjects} is out of range: expected 1–3.",
            nameof(MinObjects));
        if (MaxObjects < MinObjects
            || MaxObjects > 3) throw new ArgumentException($"MaxObjects={MaxObjects} is out of range: expected MinObjects " +
                $"({MinObjects})–3.", nameof(MaxObjects));
        return this;
    }
}

/// <summary>One rendered scene with everything known about it.</summary>
public sealed record ShapesSample(int Index, Split Split, ShapesScene Scene, int Resolution, byte[] Rgb, byte[] Mask,
    string Caption, IReadOnlyList<QuestionAnswer> Questions);

/// <summary>A split of the Shapes dataset: random access by index, batches as tensors.</summary>
public sealed class ShapesDataset
{
    /// <summary>Mask class names: index = class id (0 = background).</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        new[] { "background" }.Concat(Enum.GetValues<ShapeKind>().Select(k => ShapeObject.Word(k))).ToArray();

    public ShapesDataset(int count, Split split = Split.Train, ShapesOptions? options = null)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "expected a non-negative number of samples");
        Count = count;
        Split = split;
        Options = (options ?? new ShapesOptions()).Validate();
    }

    public int Count { get; }
    public Split Split { get; }
    public ShapesOptions Options { get; }

    /// <summary>Sample <paramref name="index"/> of this split: the same bytes for the same (seed, split, index).</summary>
    public ShapesSample this[int index]
    {
        get
        {
            if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"expected 0..{Count - 1}");
            var rng = KitRandom.For(Options.Seed, (long)Split, index);
            ShapesScene scene;
            do scene = SampleScene(rng); while (scene.Split != Split); // keeps the splits disjoint by construction
            var (rgb, mask) = ShapesRenderer.Render(scene, Options.Resolution, Options.Background, rng);
            return new ShapesSample(index, Split, scene, Options.Resolution, rgb, mask,
                scene.Caption(rng.Next(ShapesScene.CaptionTemplates)), scene.Questions());
        }
    }

    ShapesScene SampleScene(KitRandom rng)
    {
        int n = Options.MinObjects + rng.Next(Options.MaxObjects - Options.MinObjects + 1);
        var shapes = rng.Permutation(Enum.GetValues<ShapeKind>().Length); // distinct shapes: "the star" is unambiguous
        var cells = rng.Permutation(9);                                    // distinct cells: objects never overlap
        var colours = Enum.GetValues<ShapeColour>();
        var objects = Enumerable.Range(0, n).Select(i => new ShapeObject(
            (ShapeKind)shapes[i], colours[rng.Next(colours.Length)], rng.Next(2) == 0 ? ShapeSize.Small : ShapeSize.Large,
            cells[i] / 3, cells[i] % 3)).ToList();
        return new ShapesScene(objects);
    }

    /// <summary>Samples <paramref name="indices"/> as one batch (images [B, 3, H, W] in [−1, 1], masks, labels).</summary>
    public ImageBatch Batch(IEnumerable<int> indices)
    {
        var samples = indices.Select(i => this[i]).ToList();
        int n = Options.Resolution;
        var images = ImageBatch.ToTensor(samples.Select(s => s.Rgb).ToList(), 3, n, n);
        var masks = tensor(samples.SelectMany(s => s.Mask).Select(b => (long)b).ToArray(), new long[] { samples.Count, n, n });
        var labels = tensor(samples.Select(s => (long)s.Scene.Objects[0].Shape).ToArray());
        return new ImageBatch(images, samples.Select(s => s.Caption).ToList(), masks, labels, samples.Select(s => s.Scene).ToList());
    }

    /// <summary>Samples start..start+size−1 as one batch.</summary>
    public ImageBatch Batch(int start, int size)
    {
        // A batch that runs past the end is an error, not a shorter batch: a silently short batch changes every
        // number computed from it.
        if (start < 0 || start >= Count) throw new ArgumentOutOfRangeException(nameof(start), start,
            $"a dataset of {Count} samples has indices 0..{Count - 1}.");
        if (size < 1 || start + size > Count) throw new ArgumentOutOfRangeException(nameof(size), size,
            $"samples {start}..{start + size - 1} were asked of a dataset of {Count} (indices 0..{Count - 1}): expected " +
                $"1..{Count - start}.");
        return Batch(Enumerable.Range(start, size));
    }

    /// <summary>
    /// All batches of one epoch; <paramref name="shuffleSeed"/> null keeps index order, a value shuffles
    /// reproducibly. The caller disposes each batch (or runs in a dispose scope).
    /// </summary>
    public IEnumerable<ImageBatch> Batches(int batchSize, long? shuffleSeed = null)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "expected a positive batch size");
        var order = shuffleSeed is long s ? new KitRandom((ulong)s).Permutation(Count) : Enumerable.Range(0, Count).ToArray();
        for (int i = 0; i < Count; i += batchSize) yield return Batch(order.Skip(i).Take(batchSize));
    }
}
