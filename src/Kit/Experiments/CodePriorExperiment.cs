// The generation half of MAGVIT-v2's Fig. 1: for each trained tokenizer, an autoregressive prior (the kit's GPT)
// learns text → codes on the same images, then generates images for held-out prompts; the probe scores them
// (Fréchet distance and compositional accuracy). Token factorization (§3.1) is switchable for large LFQ vocabularies.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Language;
using Kit.Notebook;
using Kit.Tokenizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>A tokenizer to put a prior on: its name, its trained run, and whether the prior factorizes its codes.</summary>
public sealed record CodePriorEntry(string Name, TokenizerRun Run, int[]? FactorGroups = null);

/// <summary>Sizes of the priors at one scale.</summary>
public sealed record CodePriorConfig(GptShape Model, LanguageTrainingConfig Training, int TrainImages, int TestImages,
    double Guidance = 3.0, double Temperature = 0.8, long Seed = 0)
{
    /// <summary>The priors at <paramref name="scale"/>.</summary>
    public static CodePriorConfig For(RunScale scale, long seed = 0) => new(
        new GptShape(Layers: scale.Pick(1, 2, 2, 2), Heads: 4, Dim: scale.Pick(32, 96, 128, 256), ContextLength: 96),
        new LanguageTrainingConfig(Steps: scale.Pick(4, 60, 300, 3000), BatchSize: scale.Pick(8, 32, 32, 32), LearningRate: 2e-3,
            Seed: seed),
        TrainImages: scale.Pick(64, 2048, 4096, 20_000), TestImages: scale.Pick(4, 32, 64, 256), Seed: seed);
}

/// <summary>One prior's scores: text → image on held-out prompts beside its shuffled-prompt chance, FD, the prior's size.</summary>
public sealed record CodePriorResult(CodePriorEntry Entry, long EmbeddingRows, CompositionalScore TextToImage, CompositionalScore Chance,
    double FrechetDistance);

/// <summary>Every prior's scores and their table.</summary>
public sealed record CodePriorResults(IReadOnlyList<CodePriorResult> Results, ResultTable Table)
{
    /// <summary>The scores of <paramref name="entry"/>'s prior (picked by the entry itself, not its name).</summary>
    public CodePriorResult Of(CodePriorEntry entry) =>
        Results.FirstOrDefault(r => ReferenceEquals(r.Entry,
            entry)) ?? throw new ArgumentException($"no prior was trained for '{entry.Name}'.", nameof(entry));
}

/// <summary>AR priors over each tokenizer's codes.</summary>
public static class CodePriorExperiment
{
    /// <summary>Trains (or loads) one prior per entry and tabulates FD, compositional accuracy (with chance) and the prior's
    /// size.</summary>
    public static CodePriorResults Run(IEnumerable<CodePriorEntry> entries, CodePriorConfig config, ProbeNetwork probe,
        Device? device = null)
    {
        device ??= Devices.Default;
        using var train = new ShapesDataset(config.TrainImages, Split.Train, new ShapesOptions(Seed: config.Seed + 7)).Batch(0,
            config.TrainImages);
        using var test = new ShapesDataset(config.TestImages, Split.Test, new ShapesOptions(Seed: config.Seed + 11)).Batch(0,
            config.TestImages);
        var captions = train.Scenes!.SelectMany(s => Enumerable.Range(0,
            ShapesScene.CaptionTemplates).Select(s.Caption)).Concat(test.Scenes!.Select(s => s.Caption(0))).ToList();
        var text = TextTokenizer.Fit(captions);
        var results = new List<CodePriorResult>();
        foreach (var entry in entries)
        {
            Console.WriteLine($"— prior on {entry.Name}");
            var tokenizer = entry.Run.Tokenizer;
            var vocabulary = new UnifiedVocabulary(text, (int)tokenizer.CodebookSize);
            var gpt = config.Model.Over(vocabulary, visualSoftmax: false) with
            {
                Factorization = entry.FactorGroups is null ? null : vocabulary.Factorized(entry.FactorGroups),
            };
            using var codes = tokenizer.EncodeAll(train.Images, device);
            var sequences = new UnifiedSequences(vocabulary, new VisualCorpus(train.Scenes!, codes), Array.Empty<string>(),
                SequenceMix.TextToImageOnly);
            var model = UnifiedTraining.Train($"prior on {entry.Name}", UnifiedModelConfig.For(vocabulary, gpt), sequences, config.Training,
                new { Tokenizer = entry.Run.Key, entry.FactorGroups, config.TrainImages, TextIds = text.Count }, device: device).Model;
            var pipeline = new UnifiedPipeline(model, vocabulary, tokenizer);
            var generated = UnifiedEvaluation.GenerateFor(pipeline, test.Scenes!, new SamplingOptions(Temperature: config.Temperature,
                Guidance: config.Guidance, Seed: config.Seed));
            var score = GenerationMetrics.Compositional(probe, generated, test.Scenes!);
            var chance = GenerationMetrics.ShuffledChance(probe, generated, test.Scenes!);
            double fd = UnifiedEvaluation.ProbeFrechet(probe, generated, test.Images);
            long embeddingRows = entry.FactorGroups is null ? vocabulary.Count : vocabulary.CodeOffset
                + entry.FactorGroups.Sum(b => 1L << b);
            results.Add(new CodePriorResult(entry, embeddingRows, score, chance, fd));
            generated.Dispose();
            model.Dispose();
        }
        var table = ResultTable.Of("Generation: an AR prior on each tokenizer's codes (text → image, held-out prompts)", results,
            new TableColumn<CodePriorResult>[]
        {
            new("tokenizer", r => r.Entry.Name),
            new("vocabulary", r => r.Entry.Run.Tokenizer.CodebookSize),
            new("prior head", r => r.Entry.FactorGroups is null ? "flat" : string.Join(" × ", r.Entry.FactorGroups.Select(b => $"2^{b}"))),
            new("embedding rows", r => r.EmbeddingRows),
            new("recon PSNR dB", r => r.Entry.Run.Metrics.Psnr),
            new("FD (probe)", r => r.FrechetDistance),
            new("T2I objects %", r => 100 * r.TextToImage.ObjectAccuracy),
            new("chance %", r => 100 * r.Chance.ObjectAccuracy),
            new("T2I scenes %", r => 100 * r.TextToImage.SceneAccuracy),
        }, note: "Paper (MAGVIT-v2 Fig. 1, ImageNet): VQ generation worsens beyond 2^14 codes while LFQ keeps improving to 2^18. " +
            "Chance: the same images scored against shuffled prompts.");
        return new CodePriorResults(results, table);
    }
}
