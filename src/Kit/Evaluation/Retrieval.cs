// Cross-modal retrieval scored as LexVLA and CLIP report it: for every query, rank the gallery by similarity and ask
// whether a right answer is among the first K. "Right" is a set, not one index: two Shapes scenes can have the same
// caption, and then either image is a right answer to it.
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>Recall@K in both directions.</summary>
/// <param name="ImageToText">K → share of images whose right caption is in their top K.</param>
/// <param name="TextToImage">K → share of captions whose right image is in their top K.</param>
/// <param name="Chance">K → the share a random ranking gets (K / gallery size, for one right answer per query).</param>
public sealed record RetrievalScores(IReadOnlyDictionary<int, double> ImageToText, IReadOnlyDictionary<int, double> TextToImage,
    IReadOnlyDictionary<int, double> Chance);

/// <summary>Recall@K.</summary>
public static class Retrieval
{
    /// <summary>The K the kit reports.</summary>
    public static readonly IReadOnlyList<int> Ks = new[] { 1, 5, 10 };

    /// <summary>
    /// Share of queries (rows of <paramref name="similarity"/> [Q, G]) with a right item (true in <paramref name="right"/> [Q, G])
    /// among their <paramref name="k"/> most similar. Ties are broken towards the lower gallery index.
    /// </summary>
    public static double RecallAtK(Tensor similarity, Tensor right, int k)
    {
        if (similarity.dim() != 2 || !similarity.shape.SequenceEqual(right.shape))
            throw new ArgumentException($"similarity [{string.Join(", ", similarity.shape)}] and right " +
                $"[{string.Join(", ", right.shape)}] must be the same [Q, G].", nameof(right));
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "expected K ≥ 1.");
        using var scope = NewDisposeScope();
        k = (int)Math.Min(k, similarity.shape[1]);
        // A stable descending sort, so equal scores rank by index and the result does not depend on the sort's whims.
        var order = similarity.sort(dim: 1, descending: true, stable: true).Indices.narrow(1, 0, k);
        return right.to(@bool).gather(1, order).any(1).to(float32).mean().item<float>();
    }

    /// <summary>Recall@1/5/10 of images vs texts: <paramref name="similarity"/> [N images, N texts], <paramref name="right"/>
    /// likewise.</summary>
    public static RetrievalScores Score(Tensor similarity, Tensor right) => new(
        Ks.ToDictionary(k => k, k => RecallAtK(similarity, right, k)),
        Ks.ToDictionary(k => k, k => RecallAtK(similarity.t(), right.t(), k)),
        Ks.ToDictionary(k => k, k => Math.Min(1.0, (double)k / similarity.shape[1])));

    /// <summary>[N, N] true where item i's caption equals item j's (the right answers when captions repeat).</summary>
    public static Tensor SameCaption(IReadOnlyList<string> captions, Device? device = null)
    {
        int n = captions.Count;
        var same = new bool[n * n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) same[i * n + j] = captions[i] == captions[j];
        return tensor(same, new long[] { n, n }, device: device);
    }
}
