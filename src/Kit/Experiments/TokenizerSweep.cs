// One ablation = a list of named quantizer variants trained with the same tokenizer and data, judged on the
// same held-out images: the notebooks 01–03 are thin cells over this.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Notebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>One variant of a sweep: a name for the table and the quantizer (and optionally the tokenizer) it uses.</summary>
public sealed record SweepEntry(string Name, QuantizerSpec Quantizer, TokenizerConfig? Tokenizer = null);

/// <summary>The trained variants and their table.</summary>
public sealed record SweepResult(ResultTable Table, IReadOnlyList<(SweepEntry Entry, TokenizerRun Run)> Runs)
{
    /// <summary>The run of <paramref name="entry"/> (the entry itself, not its name, picks it: a renamed variant cannot pick
    /// another).</summary>
    public TokenizerRun Of(SweepEntry entry) =>
        Runs.FirstOrDefault(r => ReferenceEquals(r.Entry,
            entry)).Run ?? throw new ArgumentException($"entry '{entry.Name}' is not part of this sweep.", nameof(entry));

    /// <summary>The metrics of <paramref name="entry"/>'s run.</summary>
    public TokenizerMetrics Metrics(SweepEntry entry) => Of(entry).Metrics;
}

/// <summary>Trains and measures tokenizer variants.</summary>
public static class TokenizerSweep
{
    /// <summary>Trains (or loads) every entry and tabulates PSNR, SSIM, rFD, codebook usage, perplexity and cost.</summary>
    public static SweepResult Run(string title, IEnumerable<SweepEntry> entries, TokenizerConfig tokenizer,
        TokenizerTrainingConfig training,
        ProbeNetwork probe, string? note = null, Device? device = null)
    {
        var runs = new List<(SweepEntry, TokenizerRun)>();
        foreach (var entry in entries)
        {
            Console.WriteLine($"— {entry.Name}: {entry.Quantizer.Describe()}");
            runs.Add((entry, TokenizerTraining.Run(entry.Tokenizer ?? tokenizer, entry.Quantizer, training, probe, device)));
        }
        var table = ResultTable.Of(title, runs, new TableColumn<(SweepEntry Entry, TokenizerRun Run)>[]
        {
            new("variant", r => r.Entry.Name),
            new("quantizer", r => r.Entry.Quantizer.Describe()),
            new("vocabulary", r => r.Run.Tokenizer.Quantizer.CodebookSize),
            new("positions/img", r => r.Run.Metrics.PositionsPerImage),
            new("bits/img", r => r.Run.Metrics.BitsPerImage),
            new("PSNR dB", r => r.Run.Metrics.Psnr),
            new("SSIM", r => r.Run.Metrics.Ssim),
            new("rFD", r => r.Run.Metrics.RFd),
            new("usage %", r => 100 * r.Run.Metrics.Usage),
            new("perplexity", r => r.Run.Metrics.Perplexity),
            new("train s", r => r.Run.FromCache ? "cached" : r.Run.Metrics.TrainSeconds),
        }, note, measured: new[] { "train s" });
        return new SweepResult(table, runs);
    }

    /// <summary>Originals (first row) above the reconstructions of each variant (one row each), with the variants named.</summary>
    public static ImageGrid Reconstructions(SweepResult sweep, TokenizerTrainingConfig training, int count = 8)
    {
        using var batch = TokenizerTraining.EvalImages(training with { EvalImages = count });
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rows = new List<Tensor> { batch.Images };
        var captions = new List<string>(Enumerable.Repeat("original", count));
        foreach (var (entry, run) in sweep.Runs)
        {
            var device = run.Tokenizer.parameters().First().device;
            rows.Add(run.Tokenizer.forward(batch.Images.to(device)).Reconstruction.clamp(-1, 1).cpu());
            captions.AddRange(Enumerable.Repeat(entry.Name, count));
        }
        return ImageGrid.From(cat(rows, 0), captions, columns: count, scale: 3,
            title: "Held-out images (top) and each variant's reconstructions", maxImages: rows.Count * count);
    }

    /// <summary>Code-use histograms (codes sorted by frequency) of each VQ/LFQ variant on held-out images: collapse is a cliff.</summary>
    public static ChartView UsageChart(SweepResult sweep, TokenizerTrainingConfig training)
    {
        using var batch = TokenizerTraining.EvalImages(training);
        var series = new Dictionary<string, (IReadOnlyList<double>, IReadOnlyList<double>)>();
        foreach (var (entry, run) in sweep.Runs)
        {
            var device = run.Tokenizer.parameters().First().device;
            run.Tokenizer.Quantizer.ResetUsage();
            Scopes.Run(() => run.Tokenizer.Encode(batch.Images.to(device)));
            if (run.Tokenizer.Quantizer.Histogram() is not long[] histogram) continue; // stacked, two-level or too large to draw
            var counts = histogram.OrderByDescending(c => c).ToArray();
            double total = Math.Max(1, counts.Sum());
            series[entry.Name] = (Enumerable.Range(1, counts.Length).Select(i => (double)i / counts.Length).ToList(),
                counts.Select(c => c / total).ToList());
        }
        return Charts.Line("Code use on held-out images (codes sorted by frequency)", series, xTitle: "share of the codebook (rank / K)",
            yTitle: "share of tokens");
    }
}
