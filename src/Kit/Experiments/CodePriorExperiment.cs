// The generation half of MAGVIT-v2's Fig. 1: for each trained tokenizer, an autoregressive prior (the kit's GPT)
// learns text → codes on the same images, then generates images for held-out prompts; the probe scores them
// (Fréchet distance and compositional accuracy). Token factorization (§3.1) is switchable for large LFQ vocabularies.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
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
public sealed record CodePriorConfig(GptConfig Model, LanguageTrainingConfig Training, int TrainImages, int TestImages, double Guidance = 3.0, double Temperature = 0.8, long Seed = 0)
{
    /// <summary>The priors at <paramref name="scale"/>.</summary>
    public static CodePriorConfig For(RunScale scale, long seed = 0) => new(
        new GptConfig(VocabSize: 2, ContextLength: 96, Layers: 2, Heads: 4, Dim: scale.Pick(96, 128, 256)),
        new LanguageTrainingConfig(Steps: scale.Pick(100, 300, 3000), BatchSize: 32, LearningRate: 2e-3, Seed: seed),
        TrainImages: scale.Pick(2048, 4096, 20_000), TestImages: scale.Pick(32, 64, 256), Seed: seed);
}

/// <summary>AR priors over each tokenizer's codes.</summary>
public static class CodePriorExperiment
{
    // Format: UnifiedSequences.Format, so priors trained on prompts phrased another way are never loaded.
    sealed record PriorKey(CodePriorConfig Config, TokenizerTraining.RunKey Tokenizer, int[]? FactorGroups, int TextIds, int Format);

    /// <summary>Trains (or loads) one prior per entry and tabulates FD, compositional accuracy (with chance) and the prior's size.</summary>
    public static ResultTable Run(IEnumerable<CodePriorEntry> entries, CodePriorConfig config, ProbeNetwork probe, Device? device = null)
    {
        device ??= Devices.Default;
        using var train = new ShapesDataset(config.TrainImages, Split.Train, new ShapesOptions(Seed: config.Seed + 7)).Batch(0, config.TrainImages);
        using var test = new ShapesDataset(config.TestImages, Split.Test, new ShapesOptions(Seed: config.Seed + 11)).Batch(0, config.TestImages);
        var captions = train.Scenes!.SelectMany(s => Enumerable.Range(0, ShapesScene.CaptionTemplates).Select(s.Caption)).Concat(test.Scenes!.Select(s => s.Caption(0))).ToList();
        var text = TextTokenizer.Fit(captions);
        var rows = new List<IReadOnlyList<object?>>();
        foreach (var entry in entries)
        {
            Console.WriteLine($"— prior on {entry.Name}");
            var tokenizer = entry.Run.Tokenizer;
            int side = tokenizer.CodeMapSize(32);
            var vocabulary = new UnifiedVocabulary(text, (int)tokenizer.Quantizer.CodebookSize, side * side * tokenizer.Quantizer.IndicesPerPosition);
            var gpt = config.Model with { VocabSize = vocabulary.Count, Factorization = entry.FactorGroups is null ? null : vocabulary.Factorized(entry.FactorGroups) };
            var codes = UnifiedLlmExperiment.EncodeAll(tokenizer, train.Images, device);
            var sequences = new UnifiedSequences(vocabulary, new VisualCorpus(train.Scenes!, codes), Array.Empty<string>(), new SequenceMix(TextToImage: 1, ImageToText: 0, Vqa: 0, Text: 0));
            var (model, _) = ArtifactCache.GetOrTrain("code-prior", new PriorKey(config, entry.Run.Key, entry.FactorGroups, text.Count, UnifiedSequences.Format),
                () => new UnifiedModel(new UnifiedModelConfig(gpt)).to(device),
                m => LanguageTraining.Train(m, sequences, config.Training, label: $"prior on {entry.Name}"));
            var pipeline = new UnifiedPipeline(model, vocabulary, tokenizer);
            var generated = UnifiedLlmExperiment.GenerateFor(pipeline, test.Scenes!, new SamplingOptions(Temperature: config.Temperature, Guidance: config.Guidance, Seed: config.Seed));
            var score = GenerationMetrics.Compositional(probe, generated, test.Scenes!);
            var chance = GenerationMetrics.ShuffledChance(probe, generated, test.Scenes!);
            double fd = UnifiedLlmExperiment.ProbeFrechet(probe, generated, test.Images);
            long embeddingRows = entry.FactorGroups is null ? vocabulary.Count : vocabulary.CodeOffset + entry.FactorGroups.Sum(b => 1L << b);
            rows.Add(new object?[] { entry.Name, tokenizer.Quantizer.CodebookSize, entry.FactorGroups is null ? "flat" : string.Join(" × ", entry.FactorGroups.Select(b => $"2^{b}")),
                embeddingRows, entry.Run.Metrics.Psnr, fd, 100 * score.ObjectAccuracy, 100 * chance.ObjectAccuracy, 100 * score.SceneAccuracy });
            codes.Dispose();
            generated.Dispose();
            model.Dispose();
        }
        return ResultTable.FromRows("Generation: an AR prior on each tokenizer's codes (text → image, held-out prompts)", new[]
        {
            "tokenizer", "vocabulary", "prior head", "embedding rows", "recon PSNR dB", "FD (probe)", "T2I objects %", "chance %", "T2I scenes %",
        }, rows, note: "Paper (MAGVIT-v2 Fig. 1, ImageNet): VQ generation worsens beyond 2^14 codes while LFQ keeps improving to 2^18. Chance: the same images scored against shuffled prompts.");
    }
}
