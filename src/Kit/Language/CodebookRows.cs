// Which rows of a language model's word-embedding table become the visual codebook when it has more rows than codes.
// UniCode's released quantizer takes the smallest-norm rows among those of norm ≥ 1. A small GPT initialised at
// N(0, 0.02) has row norms near 0.02·√d (0.23 at d = 128) and a text-pretrained one few rows above 1, so the kit states
// the threshold as a quantile of the text rows' norms instead (the median by default): rows of ids the text rarely uses
// stay near their initial norm and fall below it, and among the rest the smallest norms are taken, as UniCode does.
// The rule only ever picks text ids (never the special tokens), so code k is text id Rows[k].
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>How the visual codebook's rows are picked from the language model's table.</summary>
public enum CodebookRowRule
{
    /// <summary>The smallest-norm rows among those whose norm is at least the threshold (UniCode's rule; the kit's threshold is a norm
    /// quantile).</summary>
    SmallestAboveThreshold,
    /// <summary>The largest-norm rows (the most trained words).</summary>
    LargestNorm,
}

/// <summary>The rows a unified codebook takes from a word-embedding table, and why.</summary>
/// <param name="Ids">The text ids taken, in code order (code k is text id Ids[k]).</param>
/// <param name="Threshold">The norm the rows had to reach (NaN for <see cref="CodebookRowRule.LargestNorm"/>).</param>
/// <param name="MedianNorm">The median norm of the candidate text rows.</param>
public sealed record CodebookRows(int[] Ids, CodebookRowRule Rule, double Threshold, double MedianNorm)
{
    /// <summary>
    /// <paramref name="count"/> text ids of <paramref name="table"/>'s first <paramref name="textCount"/> rows by
    /// <paramref name="rule"/>; the threshold is the <paramref name="quantile"/> of the text rows' norms. Ties keep the lower id first.
    /// </summary>
    public static CodebookRows Pick(Tensor table, int textCount, int count, CodebookRowRule rule = CodebookRowRule.SmallestAboveThreshold,
        double quantile = 0.5)
    {
        if (table.dim() != 2) throw new ArgumentException($"table must be [ids, width]; got [{string.Join(", ", table.shape)}].",
            nameof(table));
        if (textCount < 1 || textCount > table.shape[0])
            throw new ArgumentOutOfRangeException(nameof(textCount), textCount, $"expected 1 … {table.shape[0]} text rows");
        if (count < 2 || count > textCount)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"expected 2 … {textCount} codes (one text row each)");
        if (!(quantile >= 0 && quantile <= 1)) throw new ArgumentOutOfRangeException(nameof(quantile), quantile,
            "expected a norm quantile in [0, 1]");
        float[] norms;
        using (no_grad()) norms = table.detach().narrow(0, 0, textCount).to(float32).cpu().norm(1).data<float>().ToArray();
        var sorted = norms.OrderBy(n => n).ToArray();
        double median = Quantile(sorted, 0.5);
        if (rule == CodebookRowRule.LargestNorm)
            return new CodebookRows(Enumerable.Range(0, textCount).OrderByDescending(i => norms[i]).ThenBy(i => i).Take(count).ToArray(),
                rule, double.NaN, median);
        // The threshold drops to the count-th largest norm when fewer rows pass it, so there are always enough rows.
        double threshold = Math.Min(Quantile(sorted, quantile), sorted[textCount - count]);
        var ids = Enumerable.Range(0,
            textCount).Where(i => norms[i] >= threshold).OrderBy(i => norms[i]).ThenBy(i => i).Take(count).ToArray();
        return new CodebookRows(ids, rule, threshold, median);
    }

    /// <summary>
    /// The codebook size a table of <paramref name="textRows"/> text ids can hold when <paramref name="asked"/> codes are
    /// wanted: <paramref name="asked"/> when there are enough rows, else the largest power of two the rows hold (every code
    /// must be a distinct word; a power of two keeps a code's bits whole). Without WordNet the synthetic text has about
    /// fifty ids, too few for notebook 07's 256 codes.
    /// </summary>
    public static int FitCount(int asked, int textRows)
    {
        if (asked < 2) throw new ArgumentOutOfRangeException(nameof(asked), asked, "expected at least 2 codes");
        if (textRows < 2) throw new ArgumentOutOfRangeException(nameof(textRows), textRows,
            "expected at least 2 text rows to take codes from");
        return asked <= textRows ? asked : 1 << (int)Math.Floor(Math.Log2(textRows));
    }

    // Linear interpolation between the two nearest order statistics.
    static double Quantile(float[] sorted, double q)
    {
        double at = q * (sorted.Length - 1);
        int low = (int)Math.Floor(at), high = Math.Min(sorted.Length - 1, low + 1);
        return sorted[low] + (at - low) * (sorted[high] - sorted[low]);
    }
}
