// LexVLA's PatchDis: how well an encoder's patches say which class they show, with no segmentation training at all.
// Each patch is given the class whose text vector it is most similar to, or background when its best similarity is
// below a threshold; patch labels are upsampled to pixels (each patch's label on its whole square) and compared with
// the true class masks by mean IoU: per class, intersection over union summed over the images, then the mean over the
// classes (background included).
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>mIoU of patch labels against pixel masks.</summary>
public static class PatchDiscrimination
{
    /// <summary>
    /// Patch labels [B, N] (0 = background, c = class c) from similarities [B, N, K] to K classes: 1 + argmax when the best
    /// similarity reaches <paramref name="threshold"/>, else 0.
    /// </summary>
    public static Tensor Label(Tensor similarity, double threshold)
    {
        var (best, index) = similarity.max(-1);
        return (index + 1).where(best.ge(threshold), zeros_like(index));
    }

    /// <summary>Patch labels [B, h·w] → pixel labels [B, H, W], each patch's label on its H/h × W/w square.</summary>
    public static Tensor Upsample(Tensor patchLabels, int gridHeight, int gridWidth, int height, int width)
    {
        if (height % gridHeight != 0 || width % gridWidth != 0)
            throw new ArgumentException($"{height}×{width} pixels do not split into a {gridHeight}×{gridWidth} patch grid.",
                nameof(height));
        long b = patchLabels.shape[0];
        return patchLabels.reshape(b, gridHeight, 1, gridWidth, 1).expand(b, gridHeight, height / gridHeight, gridWidth,
            width / gridWidth).reshape(b, height, width);
    }

    /// <summary>Per-class IoU over all pixels of <paramref name="predicted"/> vs <paramref name="truth"/> (both [B, H, W], classes 0 …
    /// classes − 1).</summary>
    public static double[] ClassIoU(Tensor predicted, Tensor truth, int classes)
    {
        var p = predicted.reshape(-1).to(int64);
        var t = truth.reshape(-1).to(int64);
        var iou = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            var pc = p.eq(c);
            var tc = t.eq(c);
            double inter = pc.logical_and(tc).sum().item<long>(), union = pc.logical_or(tc).sum().item<long>();
            iou[c] = union == 0 ? double.NaN : inter / union;
        }
        return iou;
    }

    /// <summary>Mean IoU over the classes that occur in the truth or the prediction.</summary>
    public static double MeanIoU(Tensor predicted, Tensor truth, int classes)
    {
        var iou = ClassIoU(predicted, truth, classes).Where(double.IsFinite).ToList();
        return iou.Count == 0 ? double.NaN : iou.Average();
    }

    /// <summary>
    /// Chance: every patch labelled at random with the truth's own patch-label frequencies (<paramref name="truthPatches"/>
    /// [B, N], the majority class of each patch), the result upsampled and scored like a model's.
    /// </summary>
    public static double ChanceMeanIoU(Tensor truthPatches, Tensor masks, int gridHeight, int gridWidth, int classes, long seed)
    {
        using var scope = NewDisposeScope();
        var counts = truthPatches.reshape(-1).bincount(null, classes).to(float32);
        using var generator = new Generator((ulong)seed);
        var drawn = multinomial(counts / counts.sum(), truthPatches.numel(), replacement: true,
            generator: generator).reshape(truthPatches.shape);
        return MeanIoU(Upsample(drawn, gridHeight, gridWidth, (int)masks.shape[1], (int)masks.shape[2]), masks, classes);
    }
}
