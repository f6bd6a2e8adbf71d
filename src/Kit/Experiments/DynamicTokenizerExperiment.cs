// Notebook 04 as functions: LaVIT's dynamic tokenizer over the kit's frozen MAE backbone — trained at several keep
// ratios, without its merger, and against a fixed pooled grid of the same budget — scored on feature reconstruction,
// pixels (through the kit's pixel decoder, standing in for LaVIT's diffusion decoder), the probe, tokens per image and
// how well the kept patches cover the objects; then the unified LLM of notebook 07 trained on dynamic and on fixed
// codes, judged the same way and timed per epoch.
using Kit.Backbones;
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Language;
using Kit.Notebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using Kit.Tokenizers.Dynamic;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Experiments;

/// <summary>Sizes of notebook 04 at one scale.</summary>
/// <param name="Backbone">The frozen backbone's MAE pretraining (shared with LexVLA's notebook).</param>
/// <param name="Pixels">The pixel decoder's training.</param>
/// <param name="Tokenizer">The main tokenizer (LaVIT's ρ = 1/3); the ablations vary it.</param>
/// <param name="Training">Both phases' training.</param>
/// <param name="KeepRatios">The ρ sweep (1 = every patch).</param>
/// <param name="EvalImages">Held-out scenes the tokenizers are scored on.</param>
/// <param name="SpreadImages">Images encoded repeatedly to measure the stochastic mode's spread.</param>
/// <param name="Encodings">Encodings per image for that spread.</param>
/// <param name="Llm">The unified LLM's sizes (notebook 07's, with its own unified steps).</param>
/// <param name="Depth">Blocks of the backbone the tokenizers read: 0, its embedding layer, whose features are patch-local
/// (the kit's MAE ViT mixes every patch with the whole image from its first block on: <see cref="DynamicTokenizerExperiment.Locality"/>).</param>
/// <param name="Seed">Seed of every generator.</param>
public sealed record DynamicExperimentConfig(MaeConfig Backbone, PixelDecoderConfig Pixels, DynamicTokenizerConfig Tokenizer, DynamicTrainingConfig Training,
    IReadOnlyList<double> KeepRatios, int EvalImages, int SpreadImages, int Encodings, UnifiedLlmConfig Llm, int Depth = 0, long Seed = 0)
{
    /// <summary>The experiment at <paramref name="scale"/>.</summary>
    public static DynamicExperimentConfig For(RunScale scale, long seed = 0)
    {
        var llm = UnifiedLlmConfig.For(scale, seed);
        return new DynamicExperimentConfig(
            Backbone: KitRecipes.Backbone(scale, seed),
            Pixels: new PixelDecoderConfig(Steps: scale.Pick(4, 100, 600, 2000), TrainImages: scale.Pick(64, 2048, 4096, 16_384), Seed: seed),
            // The main tokenizer runs without the merger: with it, keeping a patch changes nothing at this scale (the
            // merger folds every dropped patch into the kept ones), so the selector has nothing to learn from; the
            // merger is the notebook's ablation.
            Tokenizer: new DynamicTokenizerConfig(KeepRatio: 1.0 / 3, Merger: false, MergerLayers: scale.Pick(1, 2, 2, 4), DecoderLayers: scale.Pick(1, 2, 2, 4),
                CodebookSize: llm.Quantizer.CodebookSize, Width: scale.Pick(32, 64, 64, 0)),
            Training: new DynamicTrainingConfig(FeatureSteps: scale.Pick(4, 60, 300, 3000), QuantizedSteps: scale.Pick(4, 30, 150, 1500),
                BatchSize: scale.Pick(16, 64, 64, 128), TrainImages: scale.Pick(64, 2048, 8192, 20_000), Seed: seed, SelectorLearningRate: 10),
            KeepRatios: scale == RunScale.Tiny ? new[] { 1.0 / 3, 1.0 } : new[] { 0.25, 1.0 / 3, 0.5, 1.0 },
            EvalImages: scale.Pick(16, 256, 512, 1024), SpreadImages: scale.Pick(4, 16, 32, 64), Encodings: 10,
            Llm: llm with { Unified = llm.Unified with { Steps = scale.Pick(4, 100, 1000, 6000) } }, Seed: seed);
    }
}

/// <summary>What every tokenizer of the notebook shares: the frozen backbone, the pixel decoder, the probe, features and held-out scenes.</summary>
/// <param name="TrainFeatures">The backbone's features of the tokenizers' training images [M, N, C].</param>
/// <param name="Eval">Held-out scenes with their class masks.</param>
/// <param name="EvalFeatures">Their backbone features [E, N, C].</param>
/// <param name="Foreground">Their foreground patches [E, N] (an object covers part of the patch).</param>
/// <param name="PixelCeiling">PSNR of the pixel decoder on the true features: the most any tokenizer's pixels can reach.</param>
/// <param name="ProbeCeiling">The probe's cell accuracy on those decoded images.</param>
/// <param name="ProbeOnReal">The probe's cell accuracy on the real images.</param>
/// <param name="MeanFeatureCos">Feature cos of a reconstruction without tokens: each patch given its training mean (the floor to beat).</param>
/// <param name="Reader">The backbone at the config's depth: what every tokenizer of the notebook reads.</param>
/// <param name="ReaderKey">Its cache key (the backbone's and the depth).</param>
public sealed record DynamicSetup(DynamicExperimentConfig Config, RunScale Scale, Device Device, PretrainedBackbone Backbone, IPatchBackbone Reader, object ReaderKey,
    PixelDecoder Pixels, double PixelSeconds, ProbeNetwork Probe, Tensor TrainFeatures, ImageBatch Eval, Tensor EvalFeatures, Tensor Foreground, double PixelCeiling,
    double ProbeCeiling, double ProbeOnReal, double MeanFeatureCos)
{
    /// <summary>Patches per side of the backbone's grid.</summary>
    public int Grid => Backbone.Vit.GridHeight;
}

/// <summary>One tokenizer scored on the held-out scenes.</summary>
/// <param name="FeatureCos">Mean cos(x̂, x) over all patches.</param>
/// <param name="KeptCos">Over the kept patches.</param>
/// <param name="DroppedCos">Over the dropped patches (NaN when none is dropped).</param>
/// <param name="Psnr">PSNR of the pixel decoder on the reconstructed features, against the images.</param>
/// <param name="ProbeAccuracy">The probe's cell accuracy on those images.</param>
/// <param name="Selection">Tokens per image and foreground overlap of the kept patches.</param>
/// <param name="Usage">Code usage over the held-out tokens.</param>
public sealed record DynamicScores(string Name, DynamicTokenizerRun Run, SelectionMode Mode, double FeatureCos, double KeptCos, double DroppedCos, double Psnr,
    double ProbeAccuracy, SelectionScores Selection, QuantizerStats Usage, Tensor Keep, Tensor Reconstructions);

/// <summary>How much the stochastic mode moves one image's tokens between encodings.</summary>
/// <param name="CountStd">Standard deviation of an image's token count over the encodings, averaged over images.</param>
/// <param name="CountRange">Largest minus smallest count, averaged over images.</param>
/// <param name="SameIds">Share of encoding pairs of the same image that give identical code sequences.</param>
/// <param name="Counts">[image][encoding] token counts.</param>
public sealed record SelectionSpread(SelectionMode Mode, double CountStd, double CountRange, double SameIds, IReadOnlyList<IReadOnlyList<int>> Counts);

/// <summary>The unified LLM's measured training speed on one tokenizer's sequences.</summary>
/// <param name="Positions">Mean padded sequence length of a training batch.</param>
/// <param name="SecondsPerEpoch">Seconds per pass over the training images' sequences.</param>
public sealed record LlmSpeed(string Name, double TokensPerImage, double Positions, double SecondsPerEpoch, double PositionsPerSecond);

/// <summary>The unified LLM trained on one tokenizer's codes.</summary>
public sealed record DynamicLlmResult(string Name, UnifiedLlmSetup Setup, UnifiedLlmResult Result, double TokensPerImage, double SecondsPerEpoch);

/// <summary>The steps of notebook 04.</summary>
public static class DynamicTokenizerExperiment
{
    /// <summary>Pretrains (or loads) the backbone, the pixel decoder and the probe; computes the features every tokenizer reads.</summary>
    public static DynamicSetup Prepare(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var config = DynamicExperimentConfig.For(scale, seed);
        var backbone = MaskedAutoencoder.Pretrained(config.Backbone, device);
        var reader = backbone.Vit.AtDepth(config.Depth);
        object readerKey = config.Depth == backbone.Config.Vit.Layers ? backbone.Key : new { backbone.Key, config.Depth };
        var (pixels, pixelSeconds) = PixelDecoder.Trained(reader, readerKey, config.Pixels, device);
        var probe = ProbeNetwork.Trained(KitRecipes.Probe(scale, seed), device);
        var train = DynamicTokenizerTraining.TrainingFeatures(reader, config.Training.TrainImages, seed, device);
        var eval = new ShapesDataset(config.EvalImages, Split.Test, new ShapesOptions(Resolution: backbone.Vit.ImageSize, Seed: seed + 61)).Batch(0, config.EvalImages).To(device);
        var features = PixelDecoder.Features(reader, eval.Images, device);
        int grid = backbone.Vit.GridHeight;
        var foreground = PatchGrid.Foreground(eval.Masks!, grid, grid);
        using var decoded = Decode(pixels, features);
        var targets = ProbeNetwork.CellTargets(eval.Scenes!).to(device);
        using var mean = train.mean(new long[] { 0 }, keepdim: true);
        double floor = F.cosine_similarity(mean.expand_as(features), features, dim: -1).mean().item<float>();
        return new DynamicSetup(config, scale, device, backbone, reader, readerKey, pixels, pixelSeconds, probe, train, eval, features, foreground,
            ImageMetrics.Psnr(decoded, eval.Images), probe.CellAccuracy(decoded, targets), probe.CellAccuracy(eval.Images, targets), floor);
    }

    /// <summary>The tokenizer of <paramref name="config"/> trained (or loaded) on the set-up's features, with the pixel decoder attached.</summary>
    public static DynamicTokenizerRun Train(DynamicSetup s, DynamicTokenizerConfig config, DynamicTrainingConfig? training = null) =>
        DynamicTokenizerTraining.Run(s.Reader, s.ReaderKey, config, training ?? s.Config.Training, s.TrainFeatures, s.Pixels, s.Device);

    /// <summary>
    /// How patch-local the backbone's features are after each number of blocks: the mean cos of each held-out patch
    /// feature to that position's mean over the training images, over foreground and background patches. A selector can
    /// only learn to drop what the rest predicts; where a background patch's feature is close to its position's mean,
    /// dropping it costs little, and where it is as far from it as an object's, the selector has nothing to choose by.
    /// </summary>
    public static ResultTable Locality(DynamicSetup s)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var vit = s.Backbone.Vit;
        int images = (int)Math.Min(2048, s.TrainFeatures.shape[0]);
        using var train = DynamicTokenizerTraining.TrainingScenes(images, s.Config.Seed, vit.ImageSize).To(s.Device);   // the tokenizers' own training scenes
        var background = s.Foreground.logical_not();
        var rows = new List<IReadOnlyList<object?>>();
        for (int depth = 0; depth <= vit.Config.Layers; depth++)
        {
            var reader = vit.AtDepth(depth);
            var mean = PixelDecoder.Features(reader, train.Images, s.Device).mean(new long[] { 0 }, keepdim: true);
            var features = PixelDecoder.Features(reader, s.Eval.Images, s.Device);
            var cos = F.cosine_similarity(mean.expand_as(features), features, dim: -1);
            rows.Add(new object?[] { depth == 0 ? "0 (embedding)" : $"{depth}", cos.mean().item<float>(), cos.masked_select(s.Foreground).mean().item<float>(),
                cos.masked_select(background).mean().item<float>(), depth == s.Config.Depth ? "yes" : "" });
        }
        return ResultTable.FromRows($"How patch-local the backbone's features are, by depth ({s.Eval.Images.shape[0]} held-out scenes)",
            new[] { "blocks read", "cos to position's mean: all", "foreground", "background", "read by the tokenizers" }, rows,
            note: "Each patch feature against its position's mean over training images: 1 = predictable without the patch. Foreground: patches an object covers part of.");
    }

    /// <summary>Scores <paramref name="run"/> on the held-out scenes with selection <paramref name="mode"/>.</summary>
    public static DynamicScores Evaluate(DynamicSetup s, DynamicTokenizerRun run, string name, SelectionMode mode = SelectionMode.Deterministic)
    {
        var tokenizer = run.Tokenizer;
        var previous = tokenizer.Mode;
        tokenizer.Mode = mode;
        tokenizer.Quantizer.ResetUsage();
        try
        {
            using var noGrad = no_grad();
            var parts = new List<(Tensor Reconstructed, Tensor Keep)>();
            for (long start = 0; start < s.EvalFeatures.shape[0]; start += 256)
            {
                var output = tokenizer.Forward(s.EvalFeatures.narrow(0, start, Math.Min(256, s.EvalFeatures.shape[0] - start)));
                parts.Add((output.Reconstructed, output.Keep));
            }
            var reconstructed = cat(parts.Select(p => p.Reconstructed).ToList(), 0);
            var keep = cat(parts.Select(p => p.Keep).ToList(), 0).gt(0.5);
            var cos = F.cosine_similarity(reconstructed, s.EvalFeatures, dim: -1);
            double Mean(Tensor values) => values.numel() == 0 ? double.NaN : values.mean().item<float>();
            // A pooled grid keeps every slot: its tokens cover all N patches.
            bool pooled = tokenizer.Config.PooledGrid > 0;
            var patchKeep = pooled ? ones(keep.shape[0], tokenizer.Patches, dtype: @bool, device: keep.device) : keep;
            var selection = SelectionMetrics.Score(patchKeep, s.Foreground, s.Eval.Scenes!, s.Config.Seed);
            if (pooled) selection = selection with { TokensMean = tokenizer.Slots, TokensStd = 0, TokensByObjects = selection.TokensByObjects.ToDictionary(kv => kv.Key, _ => (double)tokenizer.Slots) };
            var images = Decode(s.Pixels, reconstructed);
            var targets = ProbeNetwork.CellTargets(s.Eval.Scenes!).to(s.Device);
            return new DynamicScores(name, run, mode, Mean(cos), Mean(cos.masked_select(patchKeep)), tokenizer.Config.Selects ? Mean(cos.masked_select(patchKeep.logical_not())) : double.NaN,
                ImageMetrics.Psnr(images, s.Eval.Images), s.Probe.CellAccuracy(images, targets), selection, tokenizer.Quantizer.Stats(), patchKeep, images);
        }
        finally { tokenizer.Mode = previous; }
    }

    /// <summary>Each of <paramref name="s"/>'s first SpreadImages images encoded Encodings times with <paramref name="mode"/>.</summary>
    public static SelectionSpread Spread(DynamicSetup s, DynamicTokenizer tokenizer, SelectionMode mode)
    {
        int images = (int)Math.Min(s.Config.SpreadImages, s.EvalFeatures.shape[0]);
        var previous = tokenizer.Mode;
        tokenizer.Mode = mode;
        try
        {
            var features = s.EvalFeatures.narrow(0, 0, images);
            var draws = new List<long[][]>();
            for (int e = 0; e < s.Config.Encodings; e++)
            {
                using var _ = NewDisposeScope();
                manual_seed(s.Config.Seed * 1000 + e);   // the stochastic mode samples from torch's generator
                using var codes = tokenizer.EncodeFeatures(features);
                draws.Add(codes.Rows());
            }
            var counts = Enumerable.Range(0, images).Select(i => (IReadOnlyList<int>)draws.Select(d => d[i].Length).ToList()).ToList();
            double std = counts.Average(c => { double m = c.Average(); return Math.Sqrt(c.Average(x => (x - m) * (x - m))); });
            double range = counts.Average(c => c.Max() - c.Min());
            int pairs = 0, same = 0;
            for (int i = 0; i < images; i++)
                for (int a = 0; a < draws.Count; a++)
                    for (int b = a + 1; b < draws.Count; b++) { pairs++; same += draws[a][i].SequenceEqual(draws[b][i]) ? 1 : 0; }
            return new SelectionSpread(mode, std, range, pairs == 0 ? double.NaN : (double)same / pairs, counts);
        }
        finally { tokenizer.Mode = previous; }
    }

    /// <summary>The pooled grid side whose g² tokens come closest to <paramref name="tokensPerImage"/> (the same budget).</summary>
    public static int SameBudgetGrid(double tokensPerImage, int gridSide) => Math.Clamp((int)Math.Round(Math.Sqrt(tokensPerImage)), 1, gridSide);

    /// <summary>The unified LLM of notebook 07 trained on <paramref name="run"/>'s codes (text model shared through the cache) and judged.</summary>
    public static DynamicLlmResult TrainLlm(DynamicSetup s, DynamicTokenizerRun run, string name)
    {
        var llm = UnifiedLlmExperiment.Prepare(s.Config.Llm, s.Scale, run.Tokenizer, run.Key, s.Probe, device: s.Device);
        var (text, _, _) = UnifiedLlmExperiment.PretrainText(llm);
        var result = UnifiedLlmExperiment.TrainVariant(llm, text.Model, VisualInterface.Tokens, name, s.Device);
        return new DynamicLlmResult(name, llm, result, llm.Train.Codes.Lengths.Average(), llm.SecondsPerEpoch(result.Training));
    }

    /// <summary>
    /// The unified LLM's training speed on <paramref name="run"/>'s codes, measured afresh every time (never cached): a
    /// new model of the same config trained <paramref name="steps"/> steps on the same mix; seconds per epoch (one pass
    /// over the training images' sequences) and positions per second.
    /// </summary>
    public static LlmSpeed MeasureLlmSpeed(DynamicSetup s, DynamicTokenizerRun run, string name, int steps = 30)
    {
        var llm = UnifiedLlmExperiment.Prepare(s.Config.Llm, s.Scale, run.Tokenizer, run.Key, s.Probe, device: s.Device);
        var config = UnifiedModelConfig.For(llm.Vocabulary, llm.Gpt, VisualInterface.Tokens, 0, imagePositions: run.Tokenizer.MaxCodesPerImage);
        var sequences = new UnifiedSequences(llm.Vocabulary, llm.Train, llm.Corpus.Train, SequenceMix.Standard());
        using var model = new UnifiedModel(config).to(s.Device);
        var training = s.Config.Llm.Unified with { Steps = steps };
        LanguageTraining.Train(model, sequences, training with { Steps = 2 }, label: $"warm-up ({name})");   // first steps pay one-off costs
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var log = LanguageTraining.Train(model, sequences, training, label: $"timing ({name})");
        double seconds = clock.Elapsed.TotalSeconds;
        double positions = log.Metric("positions").Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
        double perStep = seconds / steps;
        return new LlmSpeed(name, llm.Train.Codes.Lengths.Average(), positions, perStep * llm.Train.Count / training.BatchSize, training.BatchSize * positions / perStep);
    }

    /// <summary>The LLM's speed on each tokenizer's sequences.</summary>
    public static ResultTable SpeedTable(IReadOnlyList<LlmSpeed> rows) => ResultTable.FromRows("Unified LLM training speed by tokenizer",
        new[] { "tokenizer", "visual tokens per image", "padded positions per row", "s / epoch", "positions / s" },
        rows.Select(r => (IReadOnlyList<object?>)new object?[] { r.Name, r.TokensPerImage, r.Positions, r.SecondsPerEpoch, r.PositionsPerSecond }),
        note: "Measured in this run: the same model config trained a few steps on each tokenizer's sequences (the same mix of text → image, image → text, VQA and text rows). " +
              "Rows are padded to the longest in their batch, so shorter images give shorter steps.",
        measured: new[] { "s / epoch", "positions / s" });

    /// <summary>The ρ sweep: one row per tokenizer.</summary>
    public static ResultTable RatioTable(DynamicSetup s, IReadOnlyList<DynamicScores> rows) => ResultTable.FromRows("Keep ratio ρ: reconstruction, tokens per image and what is kept",
        new[] { "tokenizer", "tokens mean", "tokens std", "feature cos", "PSNR dB", "probe %", "foreground IoU", "chance IoU", "objects' patches kept %", "background kept %", "code usage %", "train s" },
        rows.Select(r => (IReadOnlyList<object?>)new object?[]
        {
            r.Name, r.Selection.TokensMean, r.Selection.TokensStd, r.FeatureCos, r.Psnr, 100 * r.ProbeAccuracy, r.Selection.ForegroundIoU, r.Selection.ChanceIoU,
            100 * r.Selection.ForegroundKept, 100 * r.Selection.BackgroundKept, 100 * r.Usage.Usage, r.Run.FromCache ? "cached" : r.Run.Seconds,
        }),
        note: $"{s.Config.EvalImages} held-out scenes. Feature cos: mean cos(x̂, x) over all {s.Grid * s.Grid} patches (each patch given its training mean, no tokens at all: {s.MeanFeatureCos:0.000}). PSNR and probe: the kit's pixel decoder applied to the " +
              $"reconstructed features (on the true features it reaches {s.PixelCeiling:0.0} dB and the probe reads {100 * s.ProbeCeiling:0} % of cells; on the real images {100 * s.ProbeOnReal:0} %). " +
              "Foreground: patches an object covers part of; chance: random masks of each image's kept size.",
        measured: new[] { "train s" });

    /// <summary>Merger on / off: reconstruction of all patches and of the dropped ones alone.</summary>
    public static ResultTable MergerTable(IReadOnlyList<DynamicScores> rows) => ResultTable.FromRows("Token merger on / off (same ρ)",
        new[] { "tokenizer", "tokens mean", "feature cos (all)", "feature cos (kept)", "feature cos (dropped)", "PSNR dB", "probe %", "foreground IoU", "chance IoU" },
        rows.Select(r => (IReadOnlyList<object?>)new object?[] { r.Name, r.Selection.TokensMean, r.FeatureCos, r.KeptCos, r.DroppedCos, r.Psnr, 100 * r.ProbeAccuracy, r.Selection.ForegroundIoU, r.Selection.ChanceIoU }),
        note: "Without the merger the kept tokens carry only their own features; the dropped patches must then be guessed by the decoder from the kept codes alone. " +
              "Tokens and IoU: deterministic selection (p(keep) > 0.5, at least one patch per image).");

    /// <summary>Deterministic vs stochastic selection: spread of one image's tokens over repeated encodings, and reconstruction.</summary>
    public static ResultTable ModeTable(DynamicSetup s, IReadOnlyList<(DynamicScores Scores, SelectionSpread Spread)> rows) => ResultTable.FromRows("Stochastic (as released) vs deterministic selection at inference",
        new[] { "selection", "token count std per image", "count range per image", "identical code sequences %", "tokens mean", "feature cos", "PSNR dB", "probe %" },
        rows.Select(r => (IReadOnlyList<object?>)new object?[]
        {
            r.Spread.Mode.ToString(), r.Spread.CountStd, r.Spread.CountRange, 100 * r.Spread.SameIds, r.Scores.Selection.TokensMean, r.Scores.FeatureCos, r.Scores.Psnr, 100 * r.Scores.ProbeAccuracy,
        }),
        note: $"Spread: each of {s.Config.SpreadImages} held-out images encoded {s.Config.Encodings} times; identical: share of pairs of encodings of the same image with the same codes.");

    /// <summary>Dynamic vs fixed at the same budget: the tokenizers and the unified LLMs trained on them.</summary>
    public static ResultTable BudgetTable(IReadOnlyList<(DynamicScores Tokenizer, DynamicLlmResult Llm)> rows) => ResultTable.FromRows("Dynamic vs fixed length at the same token budget, and the unified LLM on each",
        new[]
        {
            "tokenizer", "tokens per image", "feature cos", "PSNR dB", "probe %", "caption objects %", "objects chance %", "VQA %", "T2I objects %", "T2I chance %",
            "T2I simple %", "simple chance %", "LLM s / epoch", "LLM tokens/s",
        },
        rows.Select(r =>
        {
            var scores = r.Llm.Result.Scores;
            var t = scores.TextToImage!;
            var training = r.Llm.Result.Training;
            return (IReadOnlyList<object?>)new object?[]
            {
                r.Tokenizer.Name, r.Llm.TokensPerImage, r.Tokenizer.FeatureCos, r.Tokenizer.Psnr, 100 * r.Tokenizer.ProbeAccuracy, 100 * scores.Captions.ObjectMatch,
                100 * scores.Captions.ObjectChance, 100 * scores.Vqa, 100 * t.All.ObjectAccuracy, 100 * t.AllChance.ObjectAccuracy, 100 * t.Simple.ObjectAccuracy,
                100 * t.SimpleChance.ObjectAccuracy, training.FromCache ? "cached" : r.Llm.SecondsPerEpoch, training.FromCache ? "cached" : training.TokensPerSecond,
            };
        }),
        note: "Both LLMs start from the same text-pretrained GPT and train the same steps on the same scenes; an epoch is one pass over the training images' sequences. " +
              "Tokens per image: the training images' mean. T2I: the model decides how many codes to emit (between the tokenizer's bounds), the feature and pixel decoders draw them, the probe reads them.",
        measured: new[] { "LLM s / epoch", "LLM tokens/s" });

    // Features [B, N, C] → images through the pixel decoder, 256 at a time.
    static Tensor Decode(PixelDecoder pixels, Tensor features)
    {
        using var noGrad = no_grad();
        return Scopes.InChunks(features.shape[0], 256, (start, n) => pixels.forward(features.narrow(0, start, n)).clamp(-1, 1));
    }
}
