// Notebook 04 as functions: LaVIT's dynamic tokenizer trained at several keep ratios, without its merger, and against a
// fixed pooled grid of the same budget — scored on feature reconstruction, pixels (through the kit's pixel decoder,
// standing in for LaVIT's diffusion decoder), the probe, tokens per image and how well the kept patches cover the
// objects; then the unified LLM trained on dynamic and on fixed codes, judged the same way and timed per epoch.
using Kit.Core;
using Kit.Evaluation;
using Kit.Language;
using Kit.Quantizers;
using Kit.Tokenizers.Dynamic;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Experiments;

/// <summary>One tokenizer scored on the held-out scenes.</summary>
/// <param name="FeatureCos">Mean cos(x̂, x) over all patches.</param>
/// <param name="KeptCos">Over the kept patches.</param>
/// <param name="DroppedCos">Over the dropped patches (NaN when none is dropped).</param>
/// <param name="Psnr">PSNR of the pixel decoder on the reconstructed features, against the images.</param>
/// <param name="ProbeAccuracy">The probe's cell accuracy on those images.</param>
/// <param name="Selection">Tokens per image and foreground overlap of the kept patches.</param>
/// <param name="Usage">Code usage over the held-out tokens.</param>
public sealed record DynamicScores(string Name, DynamicTokenizerRun Run, SelectionMode Mode, double FeatureCos, double KeptCos,
    double DroppedCos, double Psnr,
    double ProbeAccuracy, SelectionScores Selection, QuantizerStats Usage, Tensor Keep, Tensor Reconstructions);

/// <summary>How much the stochastic mode moves one image's tokens between encodings.</summary>
/// <param name="CountStd">Standard deviation of an image's token count over the encodings, averaged over images.</param>
/// <param name="CountRange">Largest minus smallest count, averaged over images.</param>
/// <param name="SameIds">Share of encoding pairs of the same image that give identical code sequences.</param>
/// <param name="Counts">[image][encoding] token counts.</param>
public sealed record SelectionSpread(SelectionMode Mode, double CountStd, double CountRange, double SameIds,
    IReadOnlyList<IReadOnlyList<int>> Counts);

/// <summary>The unified LLM's measured training speed on one tokenizer's sequences.</summary>
/// <param name="Positions">Mean padded sequence length of a training batch.</param>
/// <param name="SecondsPerEpoch">Seconds per pass over the training images' sequences.</param>
public sealed record LlmSpeed(string Name, double TokensPerImage, double Positions, double SecondsPerEpoch, double PositionsPerSecond);

/// <summary>The unified LLM trained on one tokenizer's codes.</summary>
public sealed record DynamicLlmResult(string Name, UnifiedLlmSetup Setup, UnifiedLlmResult Result, double TokensPerImage,
    double SecondsPerEpoch);

/// <summary>The steps of notebook 04.</summary>
public static partial class DynamicTokenizerExperiment
{
    /// <summary>The tokenizer of <paramref name="config"/> trained (or loaded) on the set-up's features, with the pixel decoder
    /// attached.</summary>
    public static DynamicTokenizerRun Train(DynamicSetup s, DynamicTokenizerConfig config, DynamicTrainingConfig? training = null) =>
        DynamicTokenizerTraining.Run(s.Reader, s.ReaderKey, config, training ?? s.Config.Training, s.TrainFeatures, s.Pixels, s.Device);

    /// <summary>Scores <paramref name="run"/> on the held-out scenes with selection <paramref name="mode"/>.</summary>
    public static DynamicScores Evaluate(DynamicSetup s, DynamicTokenizerRun run, string name,
        SelectionMode mode = SelectionMode.Deterministic)
    {
        var tokenizer = run.Tokenizer;
        tokenizer.Quantizer.ResetUsage();
        using var noGrad = no_grad();
        var parts = new List<(Tensor Reconstructed, Tensor Keep)>();
        for (long start = 0; start < s.EvalFeatures.shape[0]; start += 256)
        {
            var output = tokenizer.Forward(s.EvalFeatures.narrow(0, start, Math.Min(256, s.EvalFeatures.shape[0] - start)), mode);
            parts.Add((output.Reconstructed, output.Keep));
        }
        var reconstructed = cat(parts.Select(p => p.Reconstructed).ToList(), 0);
        var keep = cat(parts.Select(p => p.Keep).ToList(), 0);
        var cos = F.cosine_similarity(reconstructed, s.EvalFeatures, dim: -1);
        double Mean(Tensor values) => values.numel() == 0 ? double.NaN : values.mean().item<float>();
        var patchKeep = tokenizer.PatchKeep(keep);
        var selection = SelectionMetrics.Score(patchKeep, s.Foreground, s.Eval.Scenes!, s.Config.Seed, tokens: keep.gt(0.5).sum(1));
        var images = Decode(s.Pixels, reconstructed);
        var targets = ProbeNetwork.CellTargets(s.Eval.Scenes!).to(s.Device);
        return new DynamicScores(Name: name, Run: run, Mode: mode, FeatureCos: Mean(cos), KeptCos: Mean(cos.masked_select(patchKeep)),
            DroppedCos: tokenizer.Config.Selects ? Mean(cos.masked_select(patchKeep.logical_not())) : double.NaN,
            Psnr: ImageMetrics.Psnr(images, s.Eval.Images), ProbeAccuracy: s.Probe.CellAccuracy(images, targets), Selection: selection,
            Usage: tokenizer.Quantizer.Stats(), Keep: patchKeep, Reconstructions: images);
    }

    /// <summary>Each of <paramref name="s"/>'s first SpreadImages images encoded Encodings times with <paramref name="mode"/>.</summary>
    public static SelectionSpread Spread(DynamicSetup s, DynamicTokenizer tokenizer, SelectionMode mode)
    {
        int images = (int)Math.Min(s.Config.SpreadImages, s.EvalFeatures.shape[0]);
        var features = s.EvalFeatures.narrow(0, 0, images);
        var draws = new List<long[][]>();
        for (int e = 0; e < s.Config.Encodings; e++)
        {
            using var _ = NewDisposeScope();
            manual_seed(s.Config.Seed * 1000 + e);   // the stochastic mode samples from torch's generator
            using var codes = tokenizer.EncodeFeatures(features, mode);
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

    /// <summary>The pooled grid side whose g² tokens come closest to <paramref name="tokensPerImage"/> (the same budget).</summary>
    public static int SameBudgetGrid(double tokensPerImage, int gridSide) => Math.Clamp((int)Math.Round(Math.Sqrt(tokensPerImage)), 1,
        gridSide);

    /// <summary>The unified LLM's data over <paramref name="run"/>'s tokenizer: the corpus and the training images encoded once.</summary>
    public static UnifiedLlmSetup LlmData(DynamicSetup s, DynamicTokenizerRun run) =>
        KitRecipes.UnifiedData(s.Config.Llm, s.Scale, run.Tokenizer, run.Key, s.Probe, device: s.Device);

    /// <summary>The unified LLM trained on <paramref name="run"/>'s codes from the shared text model (cached) and judged.</summary>
    public static DynamicLlmResult TrainLlm(DynamicSetup s, DynamicTokenizerRun run, string name)
    {
        var llm = LlmData(s, run);
        var (text, _, _) = KitRecipes.PretrainText(llm, s.Device);
        var result = KitRecipes.TrainUnified(llm, text.Model, VisualInterface.Tokens, name, s.Device);
        return new DynamicLlmResult(name, llm, result, llm.Train.Codes.Lengths.Average(), llm.SecondsPerEpoch(result.Training));
    }

    /// <summary>
    /// The unified LLM's training speed on <paramref name="llm"/>'s sequences, measured afresh every time (never cached): a
    /// new model of the same config trained <paramref name="steps"/> steps on the same mix; seconds per epoch (one pass
    /// over the training images' sequences) and positions per second.
    /// </summary>
    public static LlmSpeed MeasureLlmSpeed(DynamicSetup s, UnifiedLlmSetup llm, string name, int steps = 30)
    {
        var config = UnifiedModelConfig.For(llm.Vocabulary, llm.Gpt, VisualInterface.Tokens, 0,
            imagePositions: llm.Tokenizer.MaxCodesPerImage);
        var sequences = new UnifiedSequences(llm.Vocabulary, llm.Train, llm.Corpus.Train, SequenceMix.Standard());
        using var model = new UnifiedModel(config).to(s.Device);
        var training = llm.Recipe.Unified with { Steps = steps };
        // first steps pay one-off costs
        LanguageTraining.Train(model, sequences, training with { Steps = 2 }, label: $"warm-up ({name})");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var log = LanguageTraining.Train(model, sequences, training, label: $"timing ({name})");
        double seconds = clock.Elapsed.TotalSeconds;
        double positions = log.Metric("positions").Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
        double perStep = seconds / steps;
        return new LlmSpeed(name, llm.Train.Codes.Lengths.Average(), positions, perStep * llm.Train.Count / training.BatchSize,
            training.BatchSize * positions / perStep);
    }
}
