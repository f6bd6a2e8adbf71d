// Notebook 05's tables, declared as columns of its result records.
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Notebook;

namespace Kit.Experiments;

/// <summary>Notebook 05's tables.</summary>
public static partial class UnifiedCodebookExperiment
{
    static object TrainSeconds(UnifiedCodebookResult r) => r.FromCache ? "cached" : r.Seconds;

    /// <summary>The paradigms' table: tokenizer (PSNR, rFD, usage), language (perplexity vs the text model), understanding,
    /// generation.</summary>
    public static ResultTable Table(UnifiedCodebookSetup s, IReadOnlyList<UnifiedCodebookResult> results) =>
        ResultTable.Of("UniCode's unified codebook on Shapes: paradigms on one budget", results, new TableColumn<UnifiedCodebookResult>[]
        {
            new("paradigm", r => r.Name),
            new("decompression", r => r.Decompression ? "on" : "off"),
            new("PSNR dB", r => r.TokenizerMetrics.Psnr),
            new("rFD", r => r.TokenizerMetrics.RFd),
            new("usage %", r => 100 * r.TokenizerMetrics.Usage),
            new("final agreement", r => r.Drift.Count > 0 ? r.Drift[^1].Agreement : double.NaN),
            new("table moved", r => r.Drift.Count > 0 ? r.Drift[^1].Movement : double.NaN),
            new("text ppl", r => r.Scores.Perplexity),
            new("caption objects %", r => 100 * r.Scores.Captions.ObjectMatch),
            new("objects chance %", r => 100 * r.Scores.Captions.ObjectChance),
            new("caption attributes %", r => 100 * r.Scores.Captions.Attributes),
            new("VQA %", r => 100 * r.Scores.Vqa),
            new("T2I objects %", r => 100 * r.Scores.TextToImage!.All.ObjectAccuracy),
            new("T2I chance %", r => 100 * r.Scores.TextToImage!.AllChance.ObjectAccuracy),
            new("T2I simple %", r => 100 * r.Scores.TextToImage!.Simple.ObjectAccuracy),
            new("simple chance %", r => 100 * r.Scores.TextToImage!.SimpleChance.ObjectAccuracy),
            new("FD", r => r.Scores.TextToImage!.FrechetDistance),
            new("train s", TrainSeconds),
        }, note: $"Every paradigm: {s.Config.TokenizerSteps} tokenizer steps and {s.Config.LlmSteps} LLM steps from the same text model " +
            $"(held-out perplexity {s.TextPerplexity:0.00}). Agreement: mean cosine between the tokenizer's lookup row of each code " +
                $"and the LLM's row " +
            "of its text id, at the end; table moved: ‖W − W₀‖ / ‖W₀‖ over the LLM's code rows. The separate codebook has no shared " +
                "rows (NaN).",
            measured: new[] { "train s" });

    /// <summary>The stacked tokenizers' table: PSNR, rFD, codes and LLM positions per image, the latent's width and how the LLM reads a
    /// position.</summary>
    public static ResultTable StackedTable(UnifiedCodebookSetup s, IReadOnlyList<StackedCodebookResult> results) =>
        ResultTable.Of("Stacked codes over the shared rows: D × aggregation", results, new TableColumn<StackedCodebookResult>[]
        {
            new("D", r => r.Depth),
            new("aggregation", r => r.Depth == 1 ? "—" : r.Aggregation.ToString()),
            new("PSNR dB", r => r.Metrics.Psnr),
            new("rFD", r => r.Metrics.RFd),
            new("usage %", r => 100 * r.Metrics.Usage),
            new("codes / image", r => r.Metrics.CodesPerImage),
            new("LLM positions / given image", r => r.LlmPositions),
            new("latent width", r => r.LatentWidth),
            new("LLM input per position", r => r.LlmInput(s.Text.Gpt.Config.Dim)),
        }, note: $"Each layer quantizes onto the same {s.Config.CodebookSize} rows, language-driven like D = 1. A given image takes " +
            $"one LLM position per " +
            "code-map position whatever D; an image the LLM writes (text → image, decompression) takes all its codes, D per position.");

    /// <summary>The stacked LLMs' table: given-image positions, the codes written, language kept, understanding, generation, and
    /// decompression accuracy by layer.</summary>
    public static ResultTable StackedLlmTable(UnifiedCodebookSetup s,
        IReadOnlyList<(UnifiedCodebookResult Result, DecompressionScore Decompression)> rows) =>
        ResultTable.Of("Stacked codes in the LLM: compressed images in, every code out", rows,
            new TableColumn<(UnifiedCodebookResult Result, DecompressionScore Decompression)>[]
        {
            new("run", x => x.Result.Name),
            new("D", x => x.Result.Model.Config.StackDepth),
            new("decompression", x => x.Result.Decompression ? "on" : "off"),
            new("positions / given image", x => x.Result.Tokenizer.CodesPerImage / x.Result.Model.Config.StackDepth),
            new("codes / drawn image", x => x.Result.Tokenizer.CodesPerImage),
            new("text ppl", x => x.Result.Scores.Perplexity),
            new("caption objects %", x => 100 * x.Result.Scores.Captions.ObjectMatch),
            new("objects chance %", x => 100 * x.Result.Scores.Captions.ObjectChance),
            new("VQA %", x => 100 * x.Result.Scores.Vqa),
            new("T2I objects %", x => 100 * x.Result.Scores.TextToImage!.All.ObjectAccuracy),
            new("T2I chance %", x => 100 * x.Result.Scores.TextToImage!.AllChance.ObjectAccuracy),
            new("FD", x => x.Result.Scores.TextToImage!.FrechetDistance),
            new("decompressed layer-1 codes %", x => 100 * x.Decompression.First),
            new("decompressed later-layer codes %", x => 100 * x.Decompression.Later),
            new("train s", x => TrainSeconds(x.Result)),
        }, note: "Decompressed codes: held-out images given compressed, each code of the asked block predicted from the true codes " +
            "before it " +
            $"(teacher-forced), right or not; chance {100.0 / s.Config.CodebookSize:0.0} %. At D = 1 the asked block repeats the given " +
                $"codes (a copy); " +
            "at D = 2 its second-layer codes are not in the input as such.", measured: new[] { "train s" });
}
