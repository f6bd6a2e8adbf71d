// Notebook 06's tables and maps, declared as columns of its scores.
using System.Globalization;
using Kit.Data;
using Kit.Evaluation;
using Kit.Notebook;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>Notebook 06's tables.</summary>
public static partial class LexicalAlignmentExperiment
{
    static string Share(double x) => double.IsNaN(x) ? "—" : (100 * x).ToString("0.0", CultureInfo.InvariantCulture);

    static string ActiveCell((double Mean, double Std) a) => double.IsNaN(a.Mean) ? "dense" : $"{a.Mean:0.0} ± {a.Std:0.0}";

    /// <summary>One row per run: retrieval, sparsity, meaningless share, PatchDis and zero-shot.</summary>
    public static ResultTable ScoresTable(LexicalSetup s, string title, IReadOnlyList<LexicalScores> rows, string? note = null) =>
        ResultTable.Of(title, rows, new TableColumn<LexicalScores>[]
        {
            new("run", r => r.Name),
            new("R@1 i→t %", r => 100 * r.Retrieval.ImageToText[1]),
            new("R@5 i→t %", r => 100 * r.Retrieval.ImageToText[5]),
            new("R@10 i→t %", r => 100 * r.Retrieval.ImageToText[10]),
            new("R@1 t→i %", r => 100 * r.Retrieval.TextToImage[1]),
            new("R@5 t→i %", r => 100 * r.Retrieval.TextToImage[5]),
            new("R@10 t→i %", r => 100 * r.Retrieval.TextToImage[10]),
            new("active / image", r => ActiveCell(r.ImageActive)),
            new("active / caption", r => ActiveCell(r.TextActive)),
            new("meaningless: images %", r => Share(r.MeaninglessImage)),
            new("captions %", r => Share(r.MeaninglessText)),
            new("PatchDis shapes mIoU", r => r.Shapes.MeanIoU),
            new("colours mIoU", r => r.Colours.MeanIoU),
            new("zero-shot Fashion %", r => Share(r.ZeroShot)),
            new("train s", r => r.Run.FromCache ? "cached" : r.Run.Seconds),
        }, note: note is null ? Legend(s, rows[0]) : note + " " + Legend(s, rows[0]), measured: new[] { "train s" });

    static string Legend(LexicalSetup s, LexicalScores r) =>
        $"{s.Config.TestImages} held-out scenes, one caption each; chance R@1 / 5 / 10 = {100 * r.Retrieval.Chance[1]:0.0} / " +
            $"{100 * r.Retrieval.Chance[5]:0.0} / " +
        $"{100 * r.Retrieval.Chance[10]:0.0} %. Active: entries kept by the 1/√V cut (V = {s.Lexicon.Count:N0}). Meaningless: share of " +
            $"the kept activation on " +
        $"entries that are not Shapes words. PatchDis chance (random patch labels with the truth's frequencies): shapes " +
            $"{r.Shapes.ChanceIoU:0.000}, colours " +
        $"{r.Colours.ChanceIoU:0.000}. Zero-shot: Fashion-MNIST test images by the prompt \"a picture of a …\" over 10 classes (chance " +
            $"10 %; no Fashion caption " +
        $"was ever trained on){(s.Fashion is null ? $"; skipped: Fashion-MNIST is {FashionMnist.Absence}" : "")}.";

    /// <summary>One row of the fixed-budget table: a run's vectors of one kind and their retrieval.</summary>
    sealed record BudgetRow(string Run, string Vectors, double Active, RetrievalScores Retrieval);

    /// <summary>Retrieval at the 1/√V cut beside a fixed budget of EmbeddingDim entries per vector (LexVLA's 512-dimension comparison with
    /// CLIP).</summary>
    public static ResultTable TopKTable(LexicalSetup s, IReadOnlyList<LexicalScores> lexical, LexicalScores dense)
    {
        int k = s.Config.EmbeddingDim;
        var rows = lexical.SelectMany(r => new[]
        {
            new BudgetRow(r.Name, "1/√V cut", r.ImageActive.Mean, r.Retrieval),
            new BudgetRow(r.Name, $"top {k}", Math.Min(k, s.Lexicon.Count), r.TopK!),
        }).Append(new BudgetRow(dense.Name, "dense", k, dense.Retrieval));
        return ResultTable.Of($"A fixed budget: each lexical vector kept to its {k} largest entries, beside the dense model's {k} " +
            $"dimensions", rows,
            new TableColumn<BudgetRow>[]
            {
                new("run", r => r.Run),
                new("vectors", r => r.Vectors),
                new("active / image", r => r.Active),
                new("R@1 i→t %", r => 100 * r.Retrieval.ImageToText[1]),
                new("R@10 i→t %", r => 100 * r.Retrieval.ImageToText[10]),
                new("R@1 t→i %", r => 100 * r.Retrieval.TextToImage[1]),
                new("R@10 t→i %", r => 100 * r.Retrieval.TextToImage[10]),
            }, note: "Top-k keeps the k largest entries whether or not they pass the cut, so a budget above the cut's count adds small " +
                "entries.");
    }

    /// <summary>The top words of the first <paramref name="count"/> held-out images' lexical vectors, with their scores, beside each
    /// caption.</summary>
    public static ResultTable TopWords(LexicalSetup s, LexicalScores scores, int count = 8, int words = 6)
    {
        string Top(int i)
        {
            var (values, index) = scores.ImageVectors[i].topk(Math.Min(words, s.Lexicon.Count));
            return string.Join(", ", values.data<float>().Zip(index.data<long>()).Where(p => p.First > 0)
                .Select(p => $"{s.Lexicon.Words[(int)p.Second]}{(s.Lexicon.IsShapesWord[(int)p.Second] ? "" : "*")} {p.First:0.00}"));
        }
        return ResultTable.Of($"What the images are about: top words of {scores.Name}", Enumerable.Range(0, Math.Min(count,
            s.Config.TestImages)),
            new TableColumn<int>[] { new("image", i => i), new("its caption", i => s.Test.Captions[i]),
                new("top words (score after the cut)", Top) },
            note: "* marks a word that is not a Shapes word (a meaningless activation for these scenes).");
    }

    /// <summary>One word's activation over one held-out image's patches (the unnormalised patch scores), [grid][grid].</summary>
    public static IReadOnlyList<IReadOnlyList<double>> WordMap(LexicalSetup s, LexicalRun run, int image, string word)
    {
        int j = s.Lexicon.IndexOf(word);
        if (j < 0) throw new ArgumentException($"'{word}' has no entry in the lexicon.", nameof(word));
        if (!run.Encoder.HasWords || run.Tower is not null) throw new ArgumentException("expected a lexical run over the MAE backbone.",
            nameof(run));
        using var noGrad = no_grad();
        var scores = run.Encoder.PatchScores(s.Test.Features.narrow(0, image, 1))[0, TensorIndex.Colon, j].data<float>().ToArray();
        return Enumerable.Range(0, s.Grid).Select(r => (IReadOnlyList<double>)Enumerable.Range(0,
            s.Grid).Select(c => (double)scores[r * s.Grid + c]).ToList()).ToList();
    }
}
