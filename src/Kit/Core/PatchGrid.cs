// Patch-grid geometry shared by backbones, tokenizers and metrics: which patches make a Shapes grid cell, which show
// an object, and which class each shows most.
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>Where patches lie on the Shapes grid and in an image's pixels.</summary>
public static class PatchGrid
{
    /// <summary>
    /// For each of the scene's 3×3 grid cells, the patches whose centre lies inside it: a [9, N] averaging matrix whose
    /// row c holds 1/|patches of c| for the patches of cell c (a grid that does not split into thirds still gives every
    /// patch to exactly one cell).
    /// </summary>
    public static Tensor CellPooling(int gridHeight, int gridWidth, Device? device = null)
    {
        var weights = new float[9 * gridHeight * gridWidth];
        var counts = new int[9];
        int CellOf(int r, int c) => Math.Min(2, (int)((r + 0.5) * 3 / gridHeight)) * 3 + Math.Min(2, (int)((c + 0.5) * 3 / gridWidth));
        for (int r = 0; r < gridHeight; r++) for (int c = 0; c < gridWidth; c++) counts[CellOf(r, c)]++;
        for (int r = 0; r < gridHeight; r++)
            for (int c = 0; c < gridWidth; c++)
            {
                int cell = CellOf(r, c);
                weights[cell * gridHeight * gridWidth + r * gridWidth + c] = 1f / counts[cell];
            }
        return tensor(weights, new long[] { 9, gridHeight * gridWidth }, device: device);
    }

    /// <summary>
    /// Which patches show part of an object: [B, N] true where any pixel of the patch belongs to an object in the
    /// per-pixel class masks [B, H, W] (0 = background) — LaVIT's foreground, against which kept patches are scored.
    /// </summary>
    public static Tensor Foreground(Tensor masks, int gridHeight, int gridWidth)
    {
        long b = masks.shape[0], h = masks.shape[1], w = masks.shape[2];
        if (h % gridHeight != 0 || w % gridWidth != 0)
            throw new ArgumentException($"masks {h}×{w} do not split into a {gridHeight}×{gridWidth} patch grid.", nameof(masks));
        var covered = masks.gt(0).to(float32).reshape(b, gridHeight, h / gridHeight, gridWidth, w / gridWidth).amax(new long[] { 2, 4 });
        return covered.reshape(b, gridHeight * gridWidth).gt(0);
    }

    /// <summary>The class each patch shows most (0 = background): [B, N], the majority of its pixels' mask classes.</summary>
    public static Tensor MajorityClass(Tensor masks, int gridHeight, int gridWidth, int classes)
    {
        long b = masks.shape[0], h = masks.shape[1], w = masks.shape[2];
        var oneHot = nn.functional.one_hot(masks.to(int64), classes).to(float32);                       // [B, H, W, K]
        var votes = oneHot.reshape(b, gridHeight, h / gridHeight, gridWidth, w / gridWidth, classes).sum(new long[] { 2, 4 });
        return votes.reshape(b, gridHeight * gridWidth, classes).argmax(-1);
    }
}
