// Notebook 07 as functions: a cached image tokenizer, a GPT pretrained on text, then trained on unified
// sequences (LaVIT / UniCode / CM3Leon), judged on captioning, VQA, text-to-image compositional accuracy and
// Fréchet distance, held-out text perplexity before and after; and the survey's two contrasts: classification
// of discrete visual tokens vs regression of continuous embeddings (LaVIT vs Emu), and discrete tokens vs a
// linear patch projection as the input (Fuyu / LLaVA, understanding only).
using System.Diagnostics;
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Language;
using Kit.Notebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>Sizes of the unified-LLM experiment at one scale.</summary>
/// <remarks>
/// The image tokenizer is its own, wider and longer-trained than the quantizer sweeps' (32 channels, dead-code restart):
/// the sweeps' 16-channel tokenizers at 120–400 steps reconstruct Shapes as colourless blobs that the probe reads
/// at 0–12 %, so no language model on their codes could draw or caption a recognisable scene.
/// </remarks>
public sealed record UnifiedLlmConfig(GptConfig Model, LanguageTrainingConfig Pretraining, LanguageTrainingConfig Unified, TextCorpusConfig Corpus,
    TokenizerConfig Tokenizer, QuantizerSpec Quantizer, TokenizerTrainingConfig TokenizerTraining, int TrainImages, int TestImages,
    double Temperature = 0.8, long Seed = 0)
{
    /// <summary>
    /// The classifier-free guidance scales each generating variant is tried at on validation prompts; it is judged on the
    /// test prompts at the one that drew most prompted objects there (1 = no guidance).
    /// </summary>
    public static readonly IReadOnlyList<double> GuidanceScales = new[] { 1.0, 3.0, 6.0 };

    /// <summary>The experiment at <paramref name="scale"/>: quick for CI, default for a 2-core CPU, full for a GPU.</summary>
    public static UnifiedLlmConfig For(RunScale scale, long seed = 0) => new(
        // Default: on a 2-core machine whose matmul peak is 120 GFLOP/s, 2 × 128 with 1,000 WordNet lines (2,885 text ids) trains
        // at about 8 steps/s, 4 × 128 with 6,000 lines (9,663 ids, the text head then dominates) at under 4. Steps buy more than
        // depth here: 2,000 steps of the small model caption about as well as 2,400 of the deep one (20–21 % of objects named right), and three variants of
        // 2,000 steps plus the tokenizer's 500 fit the 20-minute budget.
        Model: new GptConfig(VocabSize: 2, ContextLength: 96, Layers: scale.Pick(2, 2, 6), Heads: 4, Dim: scale.Pick(128, 128, 256)),
        Pretraining: new LanguageTrainingConfig(Steps: scale.Pick(100, 300, 1000), BatchSize: 32, LearningRate: 2e-3, Seed: seed),
        // Loss weights of visual targets. An image → text or VQA row is given its image: predicting those codes is unconditional
        // image modelling that the row is not judged on, and with 64 codes against about 16 caption ids it took four fifths
        // of the row's gradient. So those codes weigh 0, and the codes a text → image row asks for weigh half a text id
        // (unconditional drawing for guidance still comes from the 10 % of text → image rows without their caption).
        // Probes at the default scale, 2,000 steps, guidance chosen on validation prompts (captions, VQA, one-object
        // prompts vs chance, all prompts vs chance): weights 1 / 1 (asked / given) 20 %, 57 %, 12 vs 6 %, 12 vs 8 % (guidance
        // 3); 0.25 / 0.25 29 %, 60 %, 17 vs 7 %, 17 vs 7 %; 0.25 / 0 27 %, 65 %, 18 vs 4 %, 18 vs 9 %; 0.5 / 0 25 %, 66 %,
        // 16 vs 2 %, 23 vs 6 %. A tenth for both drew worse (9 vs 5 %, 11 vs 11 %), and a learning rate of 4e-3 too.
        Unified: new LanguageTrainingConfig(Steps: scale.Pick(250, 2000, 6000), BatchSize: 32, LearningRate: 2e-3, ImageLossWeight: 0.5, Seed: seed, GivenImageLossWeight: 0),
        Corpus: new TextCorpusConfig(Scenes: scale.Pick(1000, 4000, 8000), WordNetLines: scale.Pick(1000, 1000, 20_000), Seed: seed),
        Tokenizer: new TokenizerConfig(Channels: 32, LatentDim: 16),
        Quantizer: new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 256, KmeansInit: true, DeadCodeThreshold: 1.0),
        TokenizerTraining: TokenizerSweep.TrainingFor(scale, seed) with { Steps = scale.Pick(300, 500, 1500) },
        TrainImages: scale.Pick(2048, 8192, 20_000), TestImages: scale.Pick(32, 128, 512), Seed: seed);
}

/// <summary>Everything the variants share: tokenizer, probe, corpus, vocabulary, encoded training images, test set.</summary>
public sealed record UnifiedLlmSetup(UnifiedLlmConfig Config, RunScale Scale, TokenizerRun Tokenizer, ProbeNetwork Probe, TextCorpus Corpus,
    UnifiedVocabulary Vocabulary, VisualCorpus Train, Tensor TrainImages, ImageBatch Test, IReadOnlyList<ShapesScene> SimplePrompts,
    IReadOnlyList<ShapesScene> ValidationPrompts)
{
    /// <summary>
    /// The GPT config with the vocabulary filled in, each modality with its own softmax (the distribution constrained
    /// decoding samples from; a visual position costs the head 256 outputs instead of the whole vocabulary).
    /// </summary>
    public GptConfig Gpt => Config.Model with { VocabSize = Vocabulary.Count, VisualCodesFrom = Vocabulary.CodeOffset };
}

/// <summary>One trained variant and its scores.</summary>
/// <remarks>Guidance: the scale chosen on validation prompts that the text-to-image scores were sampled at (NaN: the variant cannot draw).</remarks>
public sealed record UnifiedLlmResult(string Name, UnifiedModel Model, VisualInterface Interface, TrainingLog Log, double TrainSeconds, double TokensPerSecond,
    CaptionSummary Captions, double Vqa, double Guidance, CompositionalScore? TextToImage, CompositionalScore? Chance, CompositionalScore? SimpleTextToImage, CompositionalScore? SimpleChance,
    double FrechetDistance, double HeldOutPerplexity,
    IReadOnlyList<string> SampleCaptions, Tensor? Generated);

/// <summary>
/// Caption scores averaged over the test set (see <see cref="CaptionScore"/>): objects named with every attribute right,
/// share of exact captions, token F1; each attribute on its own (Attributes = their mean, then size, colour, shape) and the
/// share of captions naming as many objects as the scene holds. The chance levels score the same captions against
/// shuffled scenes (<see cref="GenerationMetrics.Shuffled"/>).
/// </summary>
public sealed record CaptionSummary(double ObjectMatch, double ExactShare, double TokenF1, double Attributes, double Size, double Colour, double Shape, double CountRight,
    double ObjectChance, double AttributesChance)
{
    /// <summary>Averages of <paramref name="captions"/> scored against <paramref name="scenes"/>, with the shuffled-scene chance levels.</summary>
    public static CaptionSummary Of(IReadOnlyList<string> captions, IReadOnlyList<ShapesScene> scenes)
    {
        if (captions.Count != scenes.Count || captions.Count == 0)
            throw new ArgumentException($"{captions.Count} captions for {scenes.Count} scenes: expected one per scene, at least one.", nameof(captions));
        var scores = captions.Select((c, i) => GenerationMetrics.Caption(c, scenes[i])).ToList();
        var shuffled = GenerationMetrics.Shuffled(scenes);
        var chance = captions.Select((c, i) => GenerationMetrics.Caption(c, shuffled[i])).ToList();
        return new CaptionSummary(scores.Average(x => x.ObjectMatch), scores.Count(x => x.Exact) / (double)scores.Count, scores.Average(x => x.TokenF1),
            scores.Average(x => x.Attributes.Mean), scores.Average(x => x.Attributes.Size), scores.Average(x => x.Attributes.Colour), scores.Average(x => x.Attributes.Shape),
            scores.Count(x => x.Attributes.CountRight) / (double)scores.Count, chance.Average(x => x.ObjectMatch), chance.Average(x => x.Attributes.Mean));
    }
}

/// <summary>The steps of notebook 07.</summary>
public static class UnifiedLlmExperiment
{
    /// <summary>Trains or loads the tokenizer and probe, builds the corpus and vocabulary, encodes the training images.</summary>
    public static UnifiedLlmSetup Prepare(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var config = UnifiedLlmConfig.For(scale, seed);
        var probe = ProbeNetwork.Trained(TokenizerSweep.ProbeFor(scale, seed), device);
        var tokenizer = TokenizerTraining.Run(config.Tokenizer, config.Quantizer, config.TokenizerTraining, probe, device);
        var corpus = TextCorpus.Build(config.Corpus);
        int side = tokenizer.Tokenizer.CodeMapSize(32);
        var vocabulary = new UnifiedVocabulary(TextTokenizer.Fit(corpus.All), (int)tokenizer.Tokenizer.Quantizer.CodebookSize, side * side * tokenizer.Tokenizer.Quantizer.IndicesPerPosition);
        using var train = new ShapesDataset(config.TrainImages, Split.Train, new ShapesOptions(Seed: seed + 7)).Batch(0, config.TrainImages);
        var codes = EncodeAll(tokenizer.Tokenizer, train.Images, device);
        var test = new ShapesDataset(config.TestImages, Split.Test, new ShapesOptions(Seed: seed + 11)).Batch(0, config.TestImages);
        // "Simple prompts": held-out one-object scenes ("a large red circle"), the first bar for text → image; as many as
        // the test scenes, so that one prompt moves the score by under a point at the default scale.
        var simple = Scenes(config.TestImages, Split.Test, new ShapesOptions(MinObjects: 1, MaxObjects: 1, Seed: seed + 13));
        // Validation prompts choose the guidance scale, so the test prompts score a choice they played no part in: half
        // one-object scenes, half scenes of 1–3 objects, from the validation split.
        int half = Math.Max(1, config.TestImages / 2);
        var validation = Scenes(half, Split.Validation, new ShapesOptions(MinObjects: 1, MaxObjects: 1, Seed: seed + 17))
            .Concat(Scenes(half, Split.Validation, new ShapesOptions(Seed: seed + 19))).ToList();
        return new UnifiedLlmSetup(config, scale, tokenizer, probe, corpus, vocabulary, new VisualCorpus(train.Scenes!, codes), train.Images.clone(), test, simple, validation);
    }

    // The scenes alone (prompts), without rendering their images.
    static List<ShapesScene> Scenes(int count, Split split, ShapesOptions options)
    {
        var dataset = new ShapesDataset(count, split, options);
        return Enumerable.Range(0, count).Select(i => dataset[i].Scene).ToList();
    }

    // Sampling as every text → image score of this experiment does it; seeds apart from the test draws' keep validation
    // draws from being the test draws' first samples.
    static SamplingOptions SamplingAt(UnifiedLlmSetup s, double guidance, long seedOffset = 0) =>
        new(Temperature: s.Config.Temperature, Guidance: guidance, Seed: s.Config.Seed + seedOffset);

    /// <summary>
    /// What the probe reads on the real test images and on their tokenizer reconstructions: the second is the ceiling of
    /// text-to-image accuracy, since a generated image can be no better than decoding the test image's own codes.
    /// </summary>
    public static (CompositionalScore Real, CompositionalScore Reconstructed) ProbeCeiling(UnifiedLlmSetup s)
    {
        using var scope = NewDisposeScope();
        var device = s.Probe.parameters().First().device;
        var images = s.Test.Images.to(device);
        var tokenizer = s.Tokenizer.Tokenizer;
        var reconstructed = tokenizer.Decode(tokenizer.Encode(images)).clamp(-1, 1);
        return (GenerationMetrics.Compositional(s.Probe, images, s.Test.Scenes!), GenerationMetrics.Compositional(s.Probe, reconstructed, s.Test.Scenes!));
    }

    /// <summary>Codes [N, L] of many images, encoded 256 at a time.</summary>
    internal static Tensor EncodeAll(ImageTokenizer tokenizer, Tensor images, Device device) =>
        Scopes.InChunks(images.shape[0], 256, (start, n) => VisualFeatures.Codes(tokenizer, images.narrow(0, start, n).to(device)));

    /// <summary>Images generated for the first caption phrasing of each scene, 32 prompts per batch.</summary>
    public static Tensor GenerateFor(UnifiedPipeline pipeline, IReadOnlyList<ShapesScene> scenes, SamplingOptions options) =>
        pipeline.GenerateImages(scenes.Select(s => s.Caption(0)).ToList(), options);

    /// <summary>Fréchet distance between generated and real images in the probe's feature space.</summary>
    internal static double ProbeFrechet(ProbeNetwork probe, Tensor generated, Tensor real)
    {
        using var noGrad = no_grad();
        var device = probe.parameters().First().device;
        return Scopes.Step(() => ImageMetrics.FrechetDistance(probe.Features(generated.to(device)), probe.Features(real.to(device))));
    }

    // Format: UnifiedSequences.Format, so models trained on sequences built another way are never loaded; Loss:
    // UnifiedModel.LossFormat, likewise for models trained under another loss.
    internal sealed record ModelKey(string Stage, UnifiedModelConfig Model, LanguageTrainingConfig Training, SequenceMix Mix, TokenizerTraining.RunKey Tokenizer,
        TextCorpusConfig Corpus, int TrainImages, int TextIds, string? From, int Format, int Loss);

    /// <summary>The GPT trained on text alone (cached), and its held-out perplexity (synthetic, WordNet).</summary>
    public static (UnifiedModel Model, TrainingLog Log, double Perplexity, double WordNetPerplexity) PretrainText(UnifiedLlmSetup s, Device? device = null)
    {
        device ??= Devices.Default;
        var config = new UnifiedModelConfig(s.Gpt);
        var sequences = new UnifiedSequences(s.Vocabulary, null, s.Corpus.Train, SequenceMix.TextOnly);
        var log = new TrainingLog();
        var (model, _) = ArtifactCache.GetOrTrain("unified-lm", Key(s, "text", config, s.Config.Pretraining, SequenceMix.TextOnly, null),
            () => new UnifiedModel(config).to(device), m => log = LanguageTraining.Train(m, sequences, s.Config.Pretraining, label: "text pretraining"));
        return (model, log, LanguageTraining.Perplexity(model, s.Vocabulary, s.Corpus.HeldOut), LanguageTraining.Perplexity(model, s.Vocabulary, s.Corpus.HeldOutWordNet));
    }

    static ModelKey Key(UnifiedLlmSetup s, string stage, UnifiedModelConfig model, LanguageTrainingConfig training, SequenceMix mix, string? from) =>
        new(stage, model, training, mix, s.Tokenizer.Key,
            s.Config.Corpus, s.Config.TrainImages, s.Vocabulary.TextCount, from, UnifiedSequences.Format, UnifiedModel.LossFormat);

    /// <summary>
    /// Trains one variant on unified sequences, starting from the text-pretrained GPT (cached), and evaluates it.
    /// Tokens: both directions with cross-entropy; Regression: continuous embeddings in, L2 on the next one;
    /// PatchProjection: pixels in through one linear layer, captioning and VQA only.
    /// </summary>
    public static UnifiedLlmResult TrainVariant(UnifiedLlmSetup s, UnifiedModel pretrained, VisualInterface visual, string name, Device? device = null)
    {
        device ??= Devices.Default;
        int featureDim = visual switch
        {
            VisualInterface.Regression => s.Tokenizer.Tokenizer.Config.LatentDim,
            VisualInterface.PatchProjection => 3 * s.Tokenizer.Tokenizer.Config.DownsampleFactor * s.Tokenizer.Tokenizer.Config.DownsampleFactor,
            _ => 0,
        };
        var config = new UnifiedModelConfig(s.Gpt, visual, featureDim, ImagePositions: s.Vocabulary.CodesPerImage);
        var mix = visual == VisualInterface.PatchProjection ? SequenceMix.UnderstandingOnly : new SequenceMix();
        var sequences = new UnifiedSequences(s.Vocabulary, s.Train, s.Corpus.Train, mix);
        var features = TrainFeatures(s, visual, device);
        var log = new TrainingLog();
        double seconds = double.NaN;
        var (model, loaded) = ArtifactCache.GetOrTrain("unified-lm", Key(s, name, config, s.Config.Unified, mix, "text"),
            () => new UnifiedModel(config).to(device),
            m =>
            {
                m.Gpt.load_state_dict(pretrained.Gpt.state_dict());
                var clock = Stopwatch.StartNew();
                log = LanguageTraining.Train(m, sequences, s.Config.Unified, features, label: name);
                seconds = clock.Elapsed.TotalSeconds;
            });
        features?.Dispose();
        double tokensPerStep = s.Config.Unified.BatchSize * (s.Vocabulary.CodesPerImage + 16.0);
        return Evaluate(s, model, name, log, loaded ? double.NaN : seconds, loaded ? double.NaN : s.Config.Unified.Steps * tokensPerStep / seconds);
    }

    static Tensor? TrainFeatures(UnifiedLlmSetup s, VisualInterface visual, Device device)
    {
        if (visual == VisualInterface.Tokens) return null;
        var tokenizer = s.Tokenizer.Tokenizer;
        return Scopes.InChunks(s.Train.Count, 256, (start, n) =>
            VisualFeatures.For(visual, tokenizer, s.TrainImages.narrow(0, start, n).to(device), s.Train.Codes.narrow(0, start, n).to(device))!);
    }

    /// <summary>Captions, VQA, text-to-image (when the interface can generate), FD and perplexity on the test set.</summary>
    public static UnifiedLlmResult Evaluate(UnifiedLlmSetup s, UnifiedModel model, string name, TrainingLog log, double seconds, double tokensPerSecond)
    {
        var pipeline = new UnifiedPipeline(model, s.Vocabulary, s.Tokenizer.Tokenizer);
        var scenes = s.Test.Scenes!;
        var captions = new List<string>();
        var answers = new List<string>();
        var questions = new List<QuestionAnswer>();
        for (int start = 0; start < scenes.Count; start += 32)
        {
            int n = Math.Min(32, scenes.Count - start);
            var images = s.Test.Images.narrow(0, start, n);
            captions.AddRange(pipeline.Caption(images));
            var qa = Enumerable.Range(start, n).Select(i => { var all = scenes[i].Questions(); return all[i % all.Count]; }).ToList();
            questions.AddRange(qa);
            answers.AddRange(pipeline.Answer(images, qa.Select(q => q.Question).ToList()));
        }
        var captionScore = CaptionSummary.Of(captions, scenes);
        double vqa = GenerationMetrics.VqaAccuracy(answers, questions.Select(q => q.Answer).ToList());
        CompositionalScore? t2i = null, chance = null, simple = null, simpleChance = null;
        double fd = double.NaN, guidance = double.NaN;
        Tensor? generated = null;
        if (model.Config.Visual != VisualInterface.PatchProjection)
        {
            guidance = ChooseGuidance(s, pipeline).Best;
            var options = SamplingAt(s, guidance);
            generated = GenerateFor(pipeline, scenes, options);
            t2i = GenerationMetrics.Compositional(s.Probe, generated, scenes);
            chance = GenerationMetrics.ShuffledChance(s.Probe, generated, scenes);
            fd = ProbeFrechet(s.Probe, generated, s.Test.Images);
            using var simpleImages = GenerateFor(pipeline, s.SimplePrompts, options);
            simple = GenerationMetrics.Compositional(s.Probe, simpleImages, s.SimplePrompts);
            simpleChance = GenerationMetrics.ShuffledChance(s.Probe, simpleImages, s.SimplePrompts);
        }
        double perplexity = LanguageTraining.Perplexity(model, s.Vocabulary, s.Corpus.HeldOut);
        return new UnifiedLlmResult(name, model, model.Config.Visual, log, seconds, tokensPerSecond,
            captionScore, vqa, guidance, t2i, chance, simple, simpleChance, fd, perplexity, captions, generated);
    }

    /// <summary>
    /// The guidance scale of <see cref="UnifiedLlmConfig.GuidanceScales"/> under which <paramref name="pipeline"/> draws the
    /// most prompted objects (shape and colour) for the validation prompts, the smallest on a tie; and each scale's score.
    /// </summary>
    public static (double Best, IReadOnlyList<(double Guidance, double ObjectAccuracy)> Scores) ChooseGuidance(UnifiedLlmSetup s, UnifiedPipeline pipeline)
    {
        var scores = UnifiedLlmConfig.GuidanceScales.Select(g =>
        {
            using var images = GenerateFor(pipeline, s.ValidationPrompts, SamplingAt(s, g, seedOffset: 1000));
            return (Guidance: g, ObjectAccuracy: GenerationMetrics.Compositional(s.Probe, images, s.ValidationPrompts).ObjectAccuracy);
        }).ToList();
        return (BestGuidance(scores), scores);
    }

    /// <summary>The guidance scale with the highest object accuracy; of tied scales the smallest (the least departure from the model's own distribution).</summary>
    public static double BestGuidance(IReadOnlyList<(double Guidance, double ObjectAccuracy)> scores)
    {
        if (scores.Count == 0) throw new ArgumentException("no guidance scale was scored.", nameof(scores));
        double best = scores.Max(x => x.ObjectAccuracy);
        return scores.Where(x => x.ObjectAccuracy == best).Min(x => x.Guidance);
    }

    /// <summary>
    /// Text-to-image accuracy of one model over classifier-free guidance scales (1 = no guidance), simple and all
    /// prompts, each beside its shuffled-prompt chance — the trade-off papers plot as FID against the guidance scale.
    /// </summary>
    public static ResultTable GuidanceSweep(UnifiedLlmSetup s, UnifiedModel model, IEnumerable<double> scales)
    {
        var pipeline = new UnifiedPipeline(model, s.Vocabulary, s.Tokenizer.Tokenizer);
        var rows = new List<IReadOnlyList<object?>>();
        foreach (var guidance in scales)
        {
            var options = SamplingAt(s, guidance);
            using var simple = GenerateFor(pipeline, s.SimplePrompts, options);
            using var all = GenerateFor(pipeline, s.Test.Scenes!, options);
            var (simpleScore, simpleChance) = (GenerationMetrics.Compositional(s.Probe, simple, s.SimplePrompts), GenerationMetrics.ShuffledChance(s.Probe, simple, s.SimplePrompts));
            var (score, chance) = (GenerationMetrics.Compositional(s.Probe, all, s.Test.Scenes!), GenerationMetrics.ShuffledChance(s.Probe, all, s.Test.Scenes!));
            rows.Add(new object?[] { guidance, 100 * simpleScore.ObjectAccuracy, 100 * simpleChance.ObjectAccuracy, 100 * score.ObjectAccuracy, 100 * chance.ObjectAccuracy,
                100 * score.ColourAccuracy, 100 * chance.ColourAccuracy, ProbeFrechet(s.Probe, all, s.Test.Images) });
        }
        return ResultTable.FromRows("Text → image over the guidance scale", new[] { "guidance", "simple %", "simple chance %", "objects %", "chance %", "colours %", "colour chance %", "FD" }, rows,
            note: $"Temperature {s.Config.Temperature}. Here the test prompts show the trade-off; the ablation table samples each variant at the scale that drew best on validation prompts.");
    }

    /// <summary>
    /// The ablation tables, one row per variant: understanding (captions read both ways, each beside its chance level, and
    /// VQA; text perplexity and training time) and generation (text → image beside its chance levels, FD).
    /// </summary>
    public static (ResultTable Understanding, ResultTable Generation) Tables(UnifiedLlmSetup s, IReadOnlyList<UnifiedLlmResult> results, double textOnlyPerplexity)
    {
        var understanding = ResultTable.FromRows("Unified LLM on Shapes: understanding (image → text, VQA)", new[]
        {
            "variant", "visual interface", "caption objects %", "objects chance %", "caption attributes %", "attributes chance %", "size %", "colour %", "shape %", "count %",
            "caption exact %", "caption F1", "VQA %", "text ppl", "train s",
        }, results.Select(r => (IReadOnlyList<object?>)new object?[]
        {
            r.Name, r.Interface.ToString(), 100 * r.Captions.ObjectMatch, 100 * r.Captions.ObjectChance, 100 * r.Captions.Attributes, 100 * r.Captions.AttributesChance,
            100 * r.Captions.Size, 100 * r.Captions.Colour, 100 * r.Captions.Shape, 100 * r.Captions.CountRight, 100 * r.Captions.ExactShare, r.Captions.TokenF1, 100 * r.Vqa,
            r.HeldOutPerplexity, double.IsNaN(r.TrainSeconds) ? "cached" : r.TrainSeconds,
        }), note: "Caption objects: the scene's objects named with size, colour and shape all right; caption attributes: each of the three judged alone, " +
            "for the named object paired with each scene object (size, colour, shape: one attribute; count: as many objects named as there are); " +
            $"chance: the same captions scored against shuffled scenes. Held-out text perplexity after text pretraining alone: {textOnlyPerplexity:0.00}.", measured: new[] { "train s" });
        var generation = ResultTable.FromRows("Unified LLM on Shapes: generation (text → image)", new[]
        {
            "variant", "guidance", "T2I simple %", "simple chance %", "T2I objects %", "T2I chance %", "T2I colours %", "colour chance %", "T2I shapes %", "T2I relation %", "T2I scenes %", "FD",
        }, results.Where(r => r.TextToImage is not null).Select(r => (IReadOnlyList<object?>)new object?[]
        {
            r.Name, r.Guidance, 100 * r.SimpleTextToImage!.ObjectAccuracy, 100 * r.SimpleChance!.ObjectAccuracy, 100 * r.TextToImage!.ObjectAccuracy, 100 * r.Chance!.ObjectAccuracy,
            100 * r.TextToImage.ColourAccuracy, 100 * r.Chance.ColourAccuracy, 100 * r.TextToImage.ShapeAccuracy, 100 * r.TextToImage.RelationAccuracy, 100 * r.TextToImage.SceneAccuracy,
            r.FrechetDistance,
        }), note: "Variants that can draw. T2I objects: prompted shape and colour found together in some cell; " +
            "colours / shapes: each attribute alone; relation: the prompt's \"left of\" / \"above\" holds between where the first two were found. Simple: one-object prompts. Chance: the same generated images scored against shuffled prompts. " +
            $"Guidance: the classifier-free guidance scale of {string.Join(", ", UnifiedLlmConfig.GuidanceScales)} that drew most prompted objects for {s.ValidationPrompts.Count} validation prompts, chosen per variant before the test prompts were drawn.");
        return (understanding, generation);
    }
}
