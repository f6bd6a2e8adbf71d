// Notebook 04's tables, declared as columns of its score records.
using Kit.Notebook;

namespace Kit.Experiments;

/// <summary>Notebook 04's tables.</summary>
public static partial class DynamicTokenizerExperiment
{
    /// <summary>The LLM's speed on each tokenizer's sequences.</summary>
    public static ResultTable SpeedTable(IReadOnlyList<LlmSpeed> rows) => ResultTable.Of("Unified LLM training speed by tokenizer", rows,
        new TableColumn<LlmSpeed>[]
        {
            new("tokenizer", r => r.Name),
            new("visual tokens per image", r => r.TokensPerImage),
            new("padded positions per row", r => r.Positions),
            new("s / epoch", r => r.SecondsPerEpoch),
            new("positions / s", r => r.PositionsPerSecond),
        }, note: "Measured in this run: the same model config trained a few steps on each tokenizer's sequences (the same mix of text " +
            "→ image, " +
            "image → text, VQA and text rows). Rows are padded to the longest in their batch, so shorter images give shorter steps.",
        measured: new[] { "s / epoch", "positions / s" });

    /// <summary>The ρ sweep: one row per tokenizer.</summary>
    public static ResultTable RatioTable(DynamicSetup s, IReadOnlyList<DynamicScores> rows) =>
        ResultTable.Of("Keep ratio ρ: reconstruction, tokens per image and what is kept", rows, new TableColumn<DynamicScores>[]
        {
            new("tokenizer", r => r.Name),
            new("tokens mean", r => r.Selection.TokensMean),
            new("tokens std", r => r.Selection.TokensStd),
            new("feature cos", r => r.FeatureCos),
            new("PSNR dB", r => r.Psnr),
            new("probe %", r => 100 * r.ProbeAccuracy),
            new("foreground IoU", r => r.Selection.ForegroundIoU),
            new("chance IoU", r => r.Selection.ChanceIoU),
            new("objects' patches kept %", r => 100 * r.Selection.ForegroundKept),
            new("background kept %", r => 100 * r.Selection.BackgroundKept),
            new("code usage %", r => 100 * r.Usage.Usage),
            new("train s", r => r.Run.FromCache ? "cached" : r.Run.Seconds),
        }, note: $"{s.Config.EvalImages} held-out scenes. Feature cos: mean cos(x̂, x) over all {s.Grid * s.Grid} patches (each patch " +
            $"given its " +
            $"training mean, no tokens at all: {s.MeanFeatureCos:0.000}). PSNR and probe: the kit's pixel decoder applied to the " +
                $"reconstructed features " +
            $"(on the true features it reaches {s.PixelCeiling:0.0} dB and the probe reads {100 * s.ProbeCeiling:0} % of cells; on the " +
                $"real images " +
            $"{100 * s.ProbeOnReal:0} %). Foreground: patches an object covers part of; chance: random masks of each image's kept size.",
            measured: new[] { "train s" });

    /// <summary>Merger on / off: reconstruction of all patches and of the dropped ones alone.</summary>
    public static ResultTable MergerTable(IReadOnlyList<DynamicScores> rows) => ResultTable.Of("Token merger on / off (same ρ)", rows,
        new TableColumn<DynamicScores>[]
        {
            new("tokenizer", r => r.Name),
            new("tokens mean", r => r.Selection.TokensMean),
            new("feature cos (all)", r => r.FeatureCos),
            new("feature cos (kept)", r => r.KeptCos),
            new("feature cos (dropped)", r => r.DroppedCos),
            new("PSNR dB", r => r.Psnr),
            new("probe %", r => 100 * r.ProbeAccuracy),
            new("foreground IoU", r => r.Selection.ForegroundIoU),
            new("chance IoU", r => r.Selection.ChanceIoU),
        }, note: "Without the merger the kept tokens carry only their own features; the dropped patches must then be guessed by the " +
            "decoder from " +
            "the kept codes alone. Tokens and IoU: deterministic selection (p(keep) > 0.5, at least one patch per image).");

    /// <summary>Deterministic vs stochastic selection: spread of one image's tokens over repeated encodings, and reconstruction.</summary>
    public static ResultTable ModeTable(DynamicSetup s, IReadOnlyList<(DynamicScores Scores, SelectionSpread Spread)> rows) =>
        ResultTable.Of("Stochastic (as released) vs deterministic selection at inference", rows,
            new TableColumn<(DynamicScores Scores, SelectionSpread Spread)>[]
            {
                new("selection", r => r.Spread.Mode.ToString()),
                new("token count std per image", r => r.Spread.CountStd),
                new("count range per image", r => r.Spread.CountRange),
                new("identical code sequences %", r => 100 * r.Spread.SameIds),
                new("tokens mean", r => r.Scores.Selection.TokensMean),
                new("feature cos", r => r.Scores.FeatureCos),
                new("PSNR dB", r => r.Scores.Psnr),
                new("probe %", r => 100 * r.Scores.ProbeAccuracy),
            }, note: $"Spread: each of {s.Config.SpreadImages} held-out images encoded {s.Config.Encodings} times; identical: share of " +
                $"pairs of " +
                "encodings of the same image with the same codes.");

    /// <summary>Dynamic vs fixed at the same budget: the tokenizers and the unified LLMs trained on them.</summary>
    public static ResultTable BudgetTable(IReadOnlyList<(DynamicScores Tokenizer, DynamicLlmResult Llm)> rows) =>
        ResultTable.Of("Dynamic vs fixed length at the same token budget, and the unified LLM on each", rows,
            new TableColumn<(DynamicScores Tokenizer, DynamicLlmResult Llm)>[]
            {
                new("tokenizer", r => r.Tokenizer.Name),
                new("tokens per image", r => r.Llm.TokensPerImage),
                new("feature cos", r => r.Tokenizer.FeatureCos),
                new("PSNR dB", r => r.Tokenizer.Psnr),
                new("probe %", r => 100 * r.Tokenizer.ProbeAccuracy),
                new("caption objects %", r => 100 * r.Llm.Result.Scores.Captions.ObjectMatch),
                new("objects chance %", r => 100 * r.Llm.Result.Scores.Captions.ObjectChance),
                new("VQA %", r => 100 * r.Llm.Result.Scores.Vqa),
                new("T2I objects %", r => 100 * r.Llm.Result.Scores.TextToImage!.All.ObjectAccuracy),
                new("T2I chance %", r => 100 * r.Llm.Result.Scores.TextToImage!.AllChance.ObjectAccuracy),
                new("T2I simple %", r => 100 * r.Llm.Result.Scores.TextToImage!.Simple.ObjectAccuracy),
                new("simple chance %", r => 100 * r.Llm.Result.Scores.TextToImage!.SimpleChance.ObjectAccuracy),
                new("LLM s / epoch", r => r.Llm.Result.Training.FromCache ? "cached" : r.Llm.SecondsPerEpoch),
                new("LLM tokens/s", r => r.Llm.Result.Training.FromCache ? "cached" : r.Llm.Result.Training.TokensPerSecond),
            }, note: "Both LLMs start from the same text-pretrained GPT and train the same steps on the same scenes; an epoch is one " +
                "pass over the " +
                "training images' sequences. Tokens per image: the training images' mean. T2I: the model decides how many codes to " +
                    "emit (between the " +
                "tokenizer's bounds), the feature and pixel decoders draw them, the probe reads them.",
            measured: new[] { "LLM s / epoch", "LLM tokens/s" });
}
