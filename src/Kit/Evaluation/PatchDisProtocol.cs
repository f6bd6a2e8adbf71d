// LexVLA's PatchDis protocol: the class vectors come from the text side ("a circle"); each patch's similarity to them is
// labelled with a background threshold chosen on validation scenes (of 20 quantiles of the patches' best similarity, the
// one with the best validation mIoU), and the test scenes are scored by mIoU beside the chance of random patch labels.
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>PatchDis for one class set (shapes or colours).</summary>
/// <param name="Classes">The class set's name.</param>
/// <param name="MeanIoU">Test mIoU over the classes and the background.</param>
/// <param name="ChanceIoU">mIoU of random patch labels drawn with the truth's class frequencies.</param>
/// <param name="Threshold">The background threshold chosen on the validation scenes.</param>
/// <param name="Labels">The test patches' labels [B, N] (0 background).</param>
public sealed record PatchDisScores(string Classes, double MeanIoU, double ChanceIoU, double Threshold, Tensor Labels);

/// <summary>A split for PatchDis: each patch's vector [B, N, D] and the pixel class masks [B, H, W] (0 background).</summary>
public sealed record PatchDisSplit(Tensor Patches, Tensor Masks);

/// <summary>The threshold protocol.</summary>
public static class PatchDisProtocol
{
    /// <summary>
    /// Scores <paramref name="test"/> with <paramref name="classVectors"/> [K, D] over a <paramref name="grid"/>×<paramref name="grid"/>
    /// patch grid, the threshold chosen on <paramref name="validation"/>; <paramref name="seed"/> draws the chance labels.
    /// </summary>
    public static PatchDisScores Score(string name, Tensor classVectors, PatchDisSplit validation, PatchDisSplit test, int grid, long seed)
    {
        foreach (var (split, which) in new[] { (validation, nameof(validation)), (test, nameof(test)) })
            if (split.Patches.dim() != 3 || split.Patches.shape[0] != split.Masks.shape[0] || split.Patches.shape[1] != grid * grid)
                throw new ArgumentException($"{which}: patches [{string.Join(", ", split.Patches.shape)}] must be [B, {grid * grid}, D] " +
                    $"for the {split.Masks.shape[0]} masks of a {grid}×{grid} grid.", which);
        int k = (int)classVectors.shape[0] + 1;
        Tensor Similarity(PatchDisSplit split) => split.Patches.MatmulChecked(classVectors.t());   // [B, N, K]
        Tensor Pixels(Tensor labels, Tensor masks) => PatchDiscrimination.Upsample(labels, grid, grid, (int)masks.shape[1],
            (int)masks.shape[2]);
        var similarity = Similarity(validation);
        var best = similarity.amax(new long[] { -1 }).reshape(-1).sort().Values.data<float>().ToArray();
        var candidates = Enumerable.Range(0, 20).Select(q => (double)best[q * (best.Length - 1) / 19]).Distinct().ToList();
        double threshold = candidates.MaxBy(t =>
            PatchDiscrimination.MeanIoU(Pixels(PatchDiscrimination.Label(similarity, t), validation.Masks), validation.Masks, k));
        var labels = PatchDiscrimination.Label(Similarity(test), threshold);
        var truthPatches = PatchGrid.MajorityClass(test.Masks, grid, grid, k);
        return new PatchDisScores(name, PatchDiscrimination.MeanIoU(Pixels(labels, test.Masks), test.Masks, k),
            PatchDiscrimination.ChanceMeanIoU(truthPatches, test.Masks, grid, grid, k, seed), threshold, labels);
    }
}
