// Does the selector keep the informative patches? On Shapes the answer can be checked: a patch is foreground when an
// object covers part of it (PatchGrid.Foreground), and the kept patches are scored against it by intersection over
// union, image by image — beside the IoU a random mask of the same size gets on the same image (drawn, not assumed),
// so "well above chance" has its chance beside it. Also: tokens per image, and their mean by the scene's object count
// (more objects should take more tokens).
using Kit.Data;
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Tokenizers.Dynamic;

/// <summary>How a keep mask sits against the scenes' objects.</summary>
/// <param name="TokensMean">Kept tokens per image, mean.</param>
/// <param name="TokensStd">Their standard deviation over images.</param>
/// <param name="ForegroundIoU">Mean over images of |kept ∩ foreground| / |kept ∪ foreground|.</param>
/// <param name="ChanceIoU">The same for random masks with each image's number of kept patches (mean of several draws).</param>
/// <param name="ForegroundKept">Share of foreground patches kept.</param>
/// <param name="BackgroundKept">Share of background patches kept.</param>
/// <param name="TokensByObjects">Mean kept tokens per image, by the number of objects in the scene.</param>
public sealed record SelectionScores(double TokensMean, double TokensStd, double ForegroundIoU, double ChanceIoU, double ForegroundKept,
    double BackgroundKept,
    IReadOnlyDictionary<int, double> TokensByObjects);

/// <summary>Keep masks scored against the Shapes foreground.</summary>
public static class SelectionMetrics
{
    /// <summary>|a ∩ b| / |a ∪ b|; 1 when both are empty.</summary>
    public static double IoU(IReadOnlyList<bool> a, IReadOnlyList<bool> b)
    {
        if (a.Count != b.Count) throw new ArgumentException($"masks of {a.Count} and {b.Count} entries.", nameof(b));
        int both = 0, either = 0;
        for (int i = 0; i < a.Count; i++) { both += a[i] && b[i] ? 1 : 0; either += a[i] || b[i] ? 1 : 0; }
        return either == 0 ? 1 : (double)both / either;
    }

    /// <summary>
    /// Scores keep masks [B, N] against foreground masks [B, N] of <paramref name="scenes"/>; chance from
    /// <paramref name="draws"/> random masks per image of its kept size, drawn with <paramref name="seed"/>. Tokens per image
    /// are <paramref name="tokens"/> [B] when a token stands for several patches (a pooled grid), else the kept patches.
    /// </summary>
    public static SelectionScores Score(Tensor keep, Tensor foreground, IReadOnlyList<ShapesScene> scenes, long seed = 0, int draws = 20,
        Tensor? tokens = null)
    {
        if (!keep.shape.SequenceEqual(foreground.shape)) throw new ArgumentException($"keep [{string.Join(", ", keep.shape)}] and " +
            $"foreground [{string.Join(", ", foreground.shape)}] differ.", nameof(foreground));
        if (scenes.Count != keep.shape[0]) throw new ArgumentException($"{scenes.Count} scenes for {keep.shape[0]} masks.", nameof(scenes));
        int b = (int)keep.shape[0], n = (int)keep.shape[1];
        var kept = keep.to(@bool).cpu().data<bool>().ToArray();
        var fore = foreground.to(@bool).cpu().data<bool>().ToArray();
        var rng = KitRandom.For(seed, 7_919);
        var counts = new double[b];
        var given = tokens?.to(float64).cpu().data<double>().ToArray();
        if (given is not null && given.Length != b) throw new ArgumentException($"{given.Length} token counts for {b} masks.",
            nameof(tokens));
        double iou = 0, chance = 0;
        long foreTotal = 0, foreKept = 0, backTotal = 0, backKept = 0;
        for (int i = 0; i < b; i++)
        {
            var k = new ArraySegment<bool>(kept, i * n, n);
            var f = new ArraySegment<bool>(fore, i * n, n);
            int count = k.Count(x => x);
            counts[i] = given?[i] ?? count;
            iou += IoU(k, f);
            for (int d = 0; d < draws; d++) chance += IoU(RandomMask(n, count, rng), f) / draws;
            for (int j = 0; j < n; j++)
                if (f[j]) { foreTotal++; foreKept += k[j] ? 1 : 0; }
                else { backTotal++; backKept += k[j] ? 1 : 0; }
        }
        double mean = counts.Average();
        double std = Math.Sqrt(counts.Select(c => (c - mean) * (c - mean)).Average());
        var byObjects = Enumerable.Range(0, b).GroupBy(i => scenes[i].Objects.Count).OrderBy(g => g.Key).ToDictionary(g => g.Key,
            g => g.Average(i => counts[i]));
        return new SelectionScores(TokensMean: mean, TokensStd: std, ForegroundIoU: iou / b, ChanceIoU: chance / b,
            ForegroundKept: foreTotal == 0 ? double.NaN : (double)foreKept / foreTotal,
            BackgroundKept: backTotal == 0 ? double.NaN : (double)backKept / backTotal, TokensByObjects: byObjects);
    }

    // count of n positions, uniformly without replacement (a partial Fisher–Yates shuffle).
    static bool[] RandomMask(int n, int count, KitRandom rng)
    {
        var order = Enumerable.Range(0, n).ToArray();
        for (int i = 0; i < count; i++) { int j = i + rng.Next(n - i); (order[i], order[j]) = (order[j], order[i]); }
        var mask = new bool[n];
        for (int i = 0; i < count; i++) mask[order[i]] = true;
        return mask;
    }
}
