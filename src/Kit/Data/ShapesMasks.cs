// Per-pixel class maps of Shapes scenes for segmentation-style metrics (PatchDis): by shape, and by colour.
using static TorchSharp.torch;

namespace Kit.Data;

/// <summary>Shapes' per-pixel class masks and their class names.</summary>
public static class ShapesMasks
{
    /// <summary>The shape classes' words, in class order (class 0 is the background).</summary>
    public static readonly IReadOnlyList<string> ShapeClasses = Enum.GetValues<ShapeKind>().Select(ShapeObject.Word).ToList();

    /// <summary>The colour classes' words, in class order (class 0 is the background).</summary>
    public static readonly IReadOnlyList<string> ColourClasses = Enum.GetValues<ShapeColour>().Select(ShapeObject.Word).ToList();

    /// <summary>The shape mask of <paramref name="scenes"/>: 0 background, 1 + shape.</summary>
    public static Tensor Shapes(ImageBatch scenes) => scenes.Masks!.to(int64);

    /// <summary>
    /// Per-pixel colour classes: 0 background, 1 + the colour of the object there (shapes are distinct within a scene, so
    /// the shape class says which object).
    /// </summary>
    public static Tensor Colours(ImageBatch scenes)
    {
        var masks = scenes.Masks!.to(int64);
        var table = new long[scenes.Count * 6];   // [image, shape class] → colour class
        for (int i = 0; i < scenes.Count; i++)
            foreach (var o in scenes.Scenes![i].Objects) table[i * 6 + o.ClassId] = (int)o.Colour + 1;
        var lookup = tensor(table, new long[] { scenes.Count, 6 }, device: masks.device);
        long b = masks.shape[0];
        return lookup.gather(1, masks.reshape(b, -1)).reshape(masks.shape);
    }
}
