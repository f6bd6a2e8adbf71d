// Judging a unified model the same way wherever it comes from (notebook 07's variants, LaVIT's dynamic tokens,
// UniCode's shared codebook): captions and VQA on held-out scenes, text → image read by the probe beside its
// shuffled-prompt chance (one-object prompts and 1–3-object prompts), the guidance scale chosen on validation prompts
// before the test prompts are drawn, Fréchet distance in the probe's features, and held-out text perplexity.
using Kit.Core;
using Kit.Data;
using Kit.Language;
using Kit.Notebook;
using Kit.Tokenizers;
using static TorchSharp.torch;

namespace Kit.Evaluation.Unified;

/// <summary>
/// What a unified model is judged on: held-out images with their scenes, one-object prompts ("simple", as many as the test
/// scenes), validation prompts that choose the guidance scale, and held-out text lines for perplexity.
/// </summary>
public sealed record UnifiedTestSet(ImageBatch Test, IReadOnlyList<ShapesScene> SimplePrompts, IReadOnlyList<ShapesScene> ValidationPrompts,
    IReadOnlyList<string> HeldOutText)
{
    /// <summary>
    /// The standard test set: <paramref name="count"/> held-out scenes (test split), as many one-object prompts, and as many
    /// validation prompts (half one-object, half 1–3 objects), every draw offset from <paramref name="seed"/>.
    /// </summary>
    public static UnifiedTestSet Shapes(int count, long seed, IReadOnlyList<string> heldOutText)
    {
        var test = new ShapesDataset(count, Split.Test, new ShapesOptions(Seed: seed + 11)).Batch(0, count);
        var simple = Scenes(count, Split.Test, new ShapesOptions(MinObjects: 1, MaxObjects: 1, Seed: seed + 13));
        int half = Math.Max(1, count / 2);
        var validation = Scenes(half, Split.Validation, new ShapesOptions(MinObjects: 1, MaxObjects: 1, Seed: seed + 17))
            .Concat(Scenes(half, Split.Validation, new ShapesOptions(Seed: seed + 19))).ToList();
        return new UnifiedTestSet(test, simple, validation, heldOutText);
    }

    // The scenes alone (prompts), without rendering their images.
    static List<ShapesScene> Scenes(int count, Split split, ShapesOptions options)
    {
        var dataset = new ShapesDataset(count, split, options);
        return Enumerable.Range(0, count).Select(i => dataset[i].Scene).ToList();
    }
}

/// <summary>How text → image is sampled: temperature, the guidance scales tried, the seed.</summary>
public sealed record UnifiedEvaluationOptions(double Temperature = 0.8, long Seed = 0, IReadOnlyList<double>? GuidanceScales = null)
{
    /// <summary>The classifier-free guidance scales tried on validation prompts (1 = no guidance).</summary>
    public IReadOnlyList<double> Scales => GuidanceScales ?? new[] { 1.0, 3.0, 6.0 };

    /// <summary>Sampling at <paramref name="guidance"/>; validation draws use seeds apart from the test draws'.</summary>
    public SamplingOptions At(double guidance, long seedOffset = 0) => new(Temperature: Temperature, Guidance: guidance, Seed: Seed
        + seedOffset);
}

/// <summary>
/// Caption scores averaged over the test set (see <see cref="CaptionScore"/>): objects named with every attribute right,
/// share of exact captions, token F1; each attribute on its own (Attributes = their mean, then size, colour, shape) and the
/// share of captions naming as many objects as the scene holds. The chance levels score the same captions against
/// shuffled scenes (<see cref="GenerationMetrics.Shuffled"/>).
/// </summary>
public sealed record CaptionSummary(double ObjectMatch, double ExactShare, double TokenF1, double Attributes, double Size, double Colour,
    double Shape, double CountRight,
    double ObjectChance, double AttributesChance)
{
    /// <summary>Averages of <paramref name="captions"/> scored against <paramref name="scenes"/>, with the shuffled-scene chance
    /// levels.</summary>
    public static CaptionSummary Of(IReadOnlyList<string> captions, IReadOnlyList<ShapesScene> scenes)
    {
        if (captions.Count != scenes.Count || captions.Count == 0)
            throw new ArgumentException($"{captions.Count} captions for {scenes.Count} scenes: expected one per scene, at least one.",
                nameof(captions));
        var scores = captions.Select((c, i) => GenerationMetrics.Caption(c, scenes[i])).ToList();
        var shuffled = GenerationMetrics.Shuffled(scenes);
        var chance = captions.Select((c, i) => GenerationMetrics.Caption(c, shuffled[i])).ToList();
        return new CaptionSummary(scores.Average(x => x.ObjectMatch), scores.Count(x => x.Exact) / (double)scores.Count,
            scores.Average(x => x.TokenF1),
            scores.Average(x => x.Attributes.Mean), scores.Average(x => x.Attributes.Size), scores.Average(x => x.Attributes.Colour),
                scores.Average(x => x.Attributes.Shape),
            scores.Count(x => x.Attributes.CountRight) / (double)scores.Count, chance.Average(x => x.ObjectMatch),
                chance.Average(x => x.Attributes.Mean));
    }
}

/// <summary>Text → image scores of one model: every prompt, one-object prompts, each beside its shuffled-prompt chance.</summary>
/// <param name="Guidance">The scale chosen on validation prompts, which every score here was sampled at.</param>
/// <param name="FrechetDistance">FD between the images generated for the test prompts and the test images, in the probe's features.</param>
/// <param name="Generated">The images generated for the test prompts [N, C, H, W] (CPU).</param>
public sealed record TextToImageScores(double Guidance, CompositionalScore All, CompositionalScore AllChance, CompositionalScore Simple,
    CompositionalScore SimpleChance,
    double FrechetDistance, Tensor Generated);

/// <summary>Everything a unified model is judged on.</summary>
/// <param name="Captions">Captions of the test images, scored.</param>
/// <param name="Vqa">Share of test questions answered exactly.</param>
/// <param name="TextToImage">Generation scores (null when the model cannot draw).</param>
/// <param name="Perplexity">Held-out text perplexity.</param>
/// <param name="SampleCaptions">The captions themselves, in test order.</param>
public sealed record UnifiedScores(CaptionSummary Captions, double Vqa, TextToImageScores? TextToImage, double Perplexity,
    IReadOnlyList<string> SampleCaptions);

/// <summary>The unified evaluation.</summary>
public static class UnifiedEvaluation
{
    /// <summary>Captions, VQA, text → image (when the model can draw), FD and perplexity of <paramref name="pipeline"/> on
    /// <paramref name="test"/>.</summary>
    public static UnifiedScores Evaluate(UnifiedPipeline pipeline, ProbeNetwork probe, UnifiedTestSet test,
        UnifiedEvaluationOptions? options = null)
    {
        options ??= new UnifiedEvaluationOptions();
        var scenes = test.Test.Scenes!;
        var captions = new List<string>();
        var answers = new List<string>();
        var questions = new List<QuestionAnswer>();
        for (int start = 0; start < scenes.Count; start += 32)
        {
            int n = Math.Min(32, scenes.Count - start);
            var images = test.Test.Images.narrow(0, start, n);
            captions.AddRange(pipeline.Caption(images));
            var qa = Enumerable.Range(start, n).Select(i => { var all = scenes[i].Questions(); return all[i % all.Count]; }).ToList();
            questions.AddRange(qa);
            answers.AddRange(pipeline.Answer(images, qa.Select(q => q.Question).ToList()));
        }
        var captionScore = CaptionSummary.Of(captions, scenes);
        double vqa = GenerationMetrics.VqaAccuracy(answers, questions.Select(q => q.Answer).ToList());
        var textToImage = pipeline.Model.Config.Visual == VisualInterface.PatchProjection ? null : TextToImage(pipeline, probe, test,
            options);
        double perplexity = LanguageTraining.Perplexity(pipeline.Model, pipeline.Vocabulary, test.HeldOutText);
        return new UnifiedScores(captionScore, vqa, textToImage, perplexity, captions);
    }

    /// <summary>Text → image at the guidance scale chosen on the validation prompts: every test prompt and the one-object prompts, with
    /// chance, and FD.</summary>
    public static TextToImageScores TextToImage(UnifiedPipeline pipeline, ProbeNetwork probe, UnifiedTestSet test,
        UnifiedEvaluationOptions options)
    {
        double guidance = ChooseGuidance(pipeline, probe, test, options).Best;
        var sampling = options.At(guidance);
        var scenes = test.Test.Scenes!;
        var generated = GenerateFor(pipeline, scenes, sampling);
        using var simple = GenerateFor(pipeline, test.SimplePrompts, sampling);
        return new TextToImageScores(guidance,
            GenerationMetrics.Compositional(probe, generated, scenes), GenerationMetrics.ShuffledChance(probe, generated, scenes),
            GenerationMetrics.Compositional(probe, simple, test.SimplePrompts), GenerationMetrics.ShuffledChance(probe, simple,
                test.SimplePrompts),
            ProbeFrechet(probe, generated, test.Test.Images), generated);
    }

    /// <summary>Images generated for the first caption phrasing of each scene, 32 prompts per batch.</summary>
    public static Tensor GenerateFor(UnifiedPipeline pipeline, IReadOnlyList<ShapesScene> scenes, SamplingOptions options) =>
        pipeline.GenerateImages(scenes.Select(s => s.Caption(0)).ToList(), options);

    /// <summary>
    /// The guidance scale of <see cref="UnifiedEvaluationOptions.Scales"/> under which <paramref name="pipeline"/> draws the most
    /// prompted objects (shape and colour) for the validation prompts, the smallest on a tie; and each scale's score.
    /// </summary>
    public static (double Best, IReadOnlyList<(double Guidance, double ObjectAccuracy)> Scores) ChooseGuidance(UnifiedPipeline pipeline,
        ProbeNetwork probe, UnifiedTestSet test, UnifiedEvaluationOptions options)
    {
        var scores = options.Scales.Select(g =>
        {
            using var images = GenerateFor(pipeline, test.ValidationPrompts, options.At(g, seedOffset: 1000));
            return (Guidance: g, ObjectAccuracy: GenerationMetrics.Compositional(probe, images, test.ValidationPrompts).ObjectAccuracy);
        }).ToList();
        return (BestGuidance(scores), scores);
    }

    /// <summary>The guidance scale with the highest object accuracy; of tied scales the smallest (the least departure from the model's own
    /// distribution).</summary>
    public static double BestGuidance(IReadOnlyList<(double Guidance, double ObjectAccuracy)> scores)
    {
        if (scores.Count == 0) throw new ArgumentException("no guidance scale was scored.", nameof(scores));
        double best = scores.Max(x => x.ObjectAccuracy);
        return scores.Where(x => x.ObjectAccuracy == best).Min(x => x.Guidance);
    }

    /// <summary>Fréchet distance between generated and real images in the probe's feature space.</summary>
    public static double ProbeFrechet(ProbeNetwork probe, Tensor generated, Tensor real)
    {
        using var noGrad = no_grad();
        var device = probe.parameters().First().device;
        return Scopes.Step(() => ImageMetrics.FrechetDistance(probe.Features(generated.to(device)), probe.Features(real.to(device))));
    }

    /// <summary>
    /// What the probe reads on the real test images and on their reconstructions through <paramref name="tokenizer"/>: the
    /// second is the ceiling of text-to-image accuracy, since a generated image can be no better than decoding the test image's own codes.
    /// </summary>
    public static (CompositionalScore Real, CompositionalScore Reconstructed) ProbeCeiling(ProbeNetwork probe, IVisualTokenizer tokenizer,
        ImageBatch test)
    {
        using var scope = NewDisposeScope();
        var device = probe.parameters().First().device;
        var images = test.Images.to(device);
        using var codes = tokenizer.EncodeTokens(images);
        var reconstructed = tokenizer.DecodeTokens(codes).clamp(-1, 1);
        return (GenerationMetrics.Compositional(probe, images, test.Scenes!), GenerationMetrics.Compositional(probe, reconstructed,
            test.Scenes!));
    }

    // One guidance scale's scores: simple and all prompts, each beside its shuffled-prompt chance, and FD.
    sealed record GuidanceRow(double Guidance, CompositionalScore Simple, CompositionalScore SimpleChance, CompositionalScore All,
        CompositionalScore AllChance, double FrechetDistance);

    /// <summary>
    /// Text-to-image accuracy of one model over classifier-free guidance scales (1 = no guidance), simple and all
    /// prompts, each beside its shuffled-prompt chance — the trade-off papers plot as FID against the guidance scale.
    /// </summary>
    public static ResultTable GuidanceSweep(UnifiedPipeline pipeline, ProbeNetwork probe, UnifiedTestSet test,
        UnifiedEvaluationOptions options, IEnumerable<double> scales)
    {
        var rows = new List<GuidanceRow>();
        foreach (var guidance in scales)
        {
            var sampling = options.At(guidance);
            using var simple = GenerateFor(pipeline, test.SimplePrompts, sampling);
            using var all = GenerateFor(pipeline, test.Test.Scenes!, sampling);
            var (simpleScore, simpleChance) = (GenerationMetrics.Compositional(probe, simple, test.SimplePrompts),
                GenerationMetrics.ShuffledChance(probe, simple, test.SimplePrompts));
            var (score, chance) = (GenerationMetrics.Compositional(probe, all, test.Test.Scenes!), GenerationMetrics.ShuffledChance(probe,
                all, test.Test.Scenes!));
            rows.Add(new GuidanceRow(guidance, simpleScore, simpleChance, score, chance, ProbeFrechet(probe, all, test.Test.Images)));
        }
        return ResultTable.Of("Text → image over the guidance scale", rows, new TableColumn<GuidanceRow>[]
        {
            new("guidance", r => r.Guidance),
            new("simple %", r => 100 * r.Simple.ObjectAccuracy),
            new("simple chance %", r => 100 * r.SimpleChance.ObjectAccuracy),
            new("objects %", r => 100 * r.All.ObjectAccuracy),
            new("chance %", r => 100 * r.AllChance.ObjectAccuracy),
            new("colours %", r => 100 * r.All.ColourAccuracy),
            new("colour chance %", r => 100 * r.AllChance.ColourAccuracy),
            new("FD", r => r.FrechetDistance),
        },
            note: $"Temperature {options.Temperature}. Here the test prompts show the trade-off; the ablation tables sample each " +
                $"variant at the scale that drew best on validation prompts.");
    }
}
