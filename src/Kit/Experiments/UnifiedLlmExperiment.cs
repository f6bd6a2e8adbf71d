// Notebook 07 as functions: a cached image tokenizer, a GPT pretrained on text, then trained on unified
// sequences (LaVIT / UniCode / CM3Leon), judged on captioning, VQA, text-to-image compositional accuracy and
// Fréchet distance, held-out text perplexity before and after; and the survey's two contrasts: classification
// of discrete visual tokens vs regression of continuous embeddings (LaVIT vs Emu), and discrete tokens vs a
// linear patch projection as the input (Fuyu / LLaVA, understanding only).
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
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
    /// <summary>How text → image is sampled and the guidance scales tried on validation prompts.</summary>
    public UnifiedEvaluationOptions Evaluation => new(Temperature, Seed);

    /// <summary>The experiment at <paramref name="scale"/>: quick for CI, default for a 2-core CPU, full for a GPU.</summary>
    public static UnifiedLlmConfig For(RunScale scale, long seed = 0) => new(
        // Default: on a 2-core machine whose matmul peak is 120 GFLOP/s, 2 × 128 with 1,000 WordNet lines (2,885 text ids) trains
        // at about 8 steps/s, 4 × 128 with 6,000 lines (9,663 ids, the text head then dominates) at under 4. Steps buy more than
        // depth here: 2,000 steps of the small model caption about as well as 2,400 of the deep one (20–21 % of objects named right), and three variants of
        // 2,000 steps plus the tokenizer's 500 fit the 20-minute budget.
        Model: new GptConfig(VocabSize: 2, ContextLength: 96, Layers: scale.Pick(1, 2, 2, 6), Heads: 4, Dim: scale.Pick(32, 128, 128, 256)),
        Pretraining: new LanguageTrainingConfig(Steps: scale.Pick(4, 100, 300, 1000), BatchSize: scale.Pick(8, 32, 32, 32), LearningRate: 2e-3, Seed: seed),
        // Loss weights of visual targets. An image → text or VQA row is given its image: predicting those codes is unconditional
        // image modelling that the row is not judged on, and with 64 codes against about 16 caption ids it took four fifths
        // of the row's gradient. So those codes weigh 0, and the codes a text → image row asks for weigh half a text id
        // (unconditional drawing for guidance still comes from the 10 % of text → image rows without their caption).
        // Probes at the default scale, 2,000 steps, guidance chosen on validation prompts (captions, VQA, one-object
        // prompts vs chance, all prompts vs chance): weights 1 / 1 (asked / given) 20 %, 57 %, 12 vs 6 %, 12 vs 8 % (guidance
        // 3); 0.25 / 0.25 29 %, 60 %, 17 vs 7 %, 17 vs 7 %; 0.25 / 0 27 %, 65 %, 18 vs 4 %, 18 vs 9 %; 0.5 / 0 25 %, 66 %,
        // 16 vs 2 %, 23 vs 6 %. A tenth for both drew worse (9 vs 5 %, 11 vs 11 %), and a learning rate of 4e-3 too.
        Unified: new LanguageTrainingConfig(Steps: scale.Pick(4, 150, 2000, 6000), BatchSize: scale.Pick(8, 32, 32, 32), LearningRate: 2e-3, ImageLossWeight: 0.5, Seed: seed, GivenImageLossWeight: 0),
        Corpus: new TextCorpusConfig(Scenes: scale.Pick(50, 1000, 4000, 8000), WordNetLines: scale.Pick(50, 1000, 1000, 20_000), HeldOutScenes: scale.Pick(20, 200, 200, 200), Seed: seed),
        Tokenizer: new TokenizerConfig(Channels: 32, LatentDim: 16),
        Quantizer: new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 256, KmeansInit: true, DeadCodeThreshold: 1.0),
        TokenizerTraining: KitRecipes.TokenizerTraining(scale, seed) with { Steps = scale.Pick(6, 150, 500, 1500) },
        TrainImages: scale.Pick(64, 2048, 8192, 20_000), TestImages: scale.Pick(4, 32, 128, 512), Seed: seed);
}

/// <summary>Everything the variants share: tokenizer, probe, corpus, vocabulary, encoded training images, test set.</summary>
/// <param name="Visual">The image tokenizer the language model reads and writes through (fixed-grid or dynamic).</param>
/// <param name="TokenizerKey">What decides the tokenizer's weights (its cache key), for the models' keys.</param>
/// <param name="Grid">The fixed-grid tokenizer's run when <paramref name="Visual"/> is one (notebook 07; the continuous interfaces need it).</param>
public sealed record UnifiedLlmSetup(UnifiedLlmConfig Config, RunScale Scale, IVisualTokenizer Visual, object TokenizerKey, TokenizerRun? Grid, ProbeNetwork Probe,
    TextCorpus Corpus, UnifiedVocabulary Vocabulary, VisualCorpus Train, Tensor TrainImages, UnifiedTestSet TestSet)
{
    /// <summary>The fixed-grid tokenizer's run (notebook 07's set-up).</summary>
    public TokenizerRun Tokenizer => Grid ?? throw new InvalidOperationException("this set-up's tokenizer is not a fixed-grid ImageTokenizer; use Visual.");

    /// <summary>
    /// The GPT config with the vocabulary filled in, each modality with its own softmax (the distribution constrained
    /// decoding samples from; a visual position costs the head 256 outputs instead of the whole vocabulary).
    /// </summary>
    public GptConfig Gpt => UnifiedLlmExperiment.GptFor(Config, Vocabulary);

    /// <summary>What the sequences are built from, for the models' cache keys.</summary>
    public object DataKey => new { Tokenizer = TokenizerKey, Config.Corpus, Config.TrainImages, TextIds = Vocabulary.TextCount };

    /// <summary>What text pretraining reads: the corpus and the vocabulary, not the tokenizer (so every notebook on this corpus shares one text model).</summary>
    public object TextKey => UnifiedLlmExperiment.TextKeyOf(Config, Vocabulary);

    /// <summary>A pipeline of <paramref name="model"/> with this set-up's vocabulary and tokenizer.</summary>
    public UnifiedPipeline Pipeline(UnifiedModel model) => new(model, Vocabulary, Visual);

    /// <summary>Seconds one pass over the training images' sequences took (NaN when loaded).</summary>
    public double SecondsPerEpoch(UnifiedTrainingResult trained) =>
        trained.Seconds / ((double)Config.Unified.Steps * Config.Unified.BatchSize / Train.Count);
}

/// <summary>One trained variant and its scores.</summary>
public sealed record UnifiedLlmResult(string Name, VisualInterface Interface, UnifiedTrainingResult Training, UnifiedScores Scores)
{
    public UnifiedModel Model => Training.Model;
}

/// <summary>The steps of notebook 07.</summary>
public static class UnifiedLlmExperiment
{
    /// <summary>Trains or loads the tokenizer and probe, builds the corpus and vocabulary, encodes the training images.</summary>
    public static UnifiedLlmSetup Prepare(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var config = UnifiedLlmConfig.For(scale, seed);
        var probe = ProbeNetwork.Trained(KitRecipes.Probe(scale, seed), device);
        var tokenizer = TokenizerTraining.Run(config.Tokenizer, config.Quantizer, config.TokenizerTraining, probe, device);
        return Prepare(config, scale, tokenizer.Tokenizer, tokenizer.Key, probe, tokenizer, device);
    }

    /// <summary>
    /// The same set-up over any image tokenizer (LaVIT's dynamic one: each training image encoded to its own number of
    /// codes); <paramref name="tokenizerKey"/> says what decides its weights.
    /// </summary>
    public static UnifiedLlmSetup Prepare(UnifiedLlmConfig config, RunScale scale, IVisualTokenizer visual, object tokenizerKey, ProbeNetwork probe,
        TokenizerRun? grid = null, Device? device = null)
    {
        device ??= Devices.Default;
        long seed = config.Seed;
        var corpus = TextCorpus.Build(config.Corpus);
        var vocabulary = new UnifiedVocabulary(TextTokenizer.Fit(corpus.All), (int)visual.CodebookSize);
        using var train = new ShapesDataset(config.TrainImages, Split.Train, new ShapesOptions(Resolution: visual.ImageSize, Seed: seed + 7)).Batch(0, config.TrainImages);
        var codes = visual.EncodeAll(train.Images, device);
        var test = UnifiedTestSet.Shapes(config.TestImages, seed, corpus.HeldOut);
        return new UnifiedLlmSetup(config, scale, visual, tokenizerKey, grid, probe, corpus, vocabulary, new VisualCorpus(train.Scenes!, codes), train.Images.clone(), test);
    }

    /// <summary>The GPT config of <paramref name="config"/> over <paramref name="vocabulary"/>, each modality with its own softmax.</summary>
    public static GptConfig GptFor(UnifiedLlmConfig config, UnifiedVocabulary vocabulary) =>
        config.Model with { VocabSize = vocabulary.Count, VisualCodesFrom = vocabulary.CodeOffset };

    /// <summary>The text model's cache key: the corpus and the vocabulary's shape, nothing of the image tokenizer.</summary>
    public static object TextKeyOf(UnifiedLlmConfig config, UnifiedVocabulary vocabulary) => new { config.Corpus, TextIds = vocabulary.TextCount, vocabulary.CodebookSize };

    /// <summary>
    /// The text-pretrained GPT of <paramref name="config"/> without any image tokenizer (LexVLA's text side): the same
    /// corpus, vocabulary (with the config's codebook size) and cache entry as notebook 07's, and its held-out synthetic perplexity.
    /// </summary>
    public static (UnifiedVocabulary Vocabulary, TextCorpus Corpus, (UnifiedModel Model, double Perplexity) Text, object TextKey) TextModel(UnifiedLlmConfig config, Device? device = null)
    {
        var corpus = TextCorpus.Build(config.Corpus);
        var vocabulary = new UnifiedVocabulary(TextTokenizer.Fit(corpus.All), config.Quantizer.CodebookSize);
        var key = TextKeyOf(config, vocabulary);
        var trained = UnifiedTraining.PretrainText(vocabulary, GptFor(config, vocabulary), corpus.Train, config.Pretraining, key, device);
        return (vocabulary, corpus, (trained.Model, LanguageTraining.Perplexity(trained.Model, vocabulary, corpus.HeldOut)), key);
    }

    /// <summary>The GPT trained on text alone (cached), and its held-out perplexity (synthetic, WordNet).</summary>
    public static (UnifiedTrainingResult Model, double Perplexity, double WordNetPerplexity) PretrainText(UnifiedLlmSetup s, Device? device = null)
    {
        var trained = UnifiedTraining.PretrainText(s.Vocabulary, s.Gpt, s.Corpus.Train, s.Config.Pretraining, s.TextKey, device);
        return (trained, LanguageTraining.Perplexity(trained.Model, s.Vocabulary, s.Corpus.HeldOut), LanguageTraining.Perplexity(trained.Model, s.Vocabulary, s.Corpus.HeldOutWordNet));
    }

    /// <summary>
    /// Trains one variant on unified sequences, starting from the text-pretrained GPT (cached), and evaluates it.
    /// Tokens: both directions with cross-entropy; Regression: continuous embeddings in, L2 on the next one;
    /// PatchProjection: pixels in through one linear layer, captioning and VQA only.
    /// </summary>
    public static UnifiedLlmResult TrainVariant(UnifiedLlmSetup s, UnifiedModel pretrained, VisualInterface visual, string name, Device? device = null)
    {
        device ??= Devices.Default;
        var grid = visual == VisualInterface.Tokens ? null : s.Tokenizer.Tokenizer; // the continuous interfaces read a fixed grid's latents or patches
        int featureDim = visual switch
        {
            VisualInterface.Regression => grid!.Config.LatentDim,
            VisualInterface.PatchProjection => 3 * grid!.Config.DownsampleFactor * grid.Config.DownsampleFactor,
            _ => 0,
        };
        var config = UnifiedModelConfig.For(s.Vocabulary, s.Gpt, visual, featureDim, imagePositions: s.Visual.MaxCodesPerImage);
        var mix = visual == VisualInterface.PatchProjection ? SequenceMix.UnderstandingOnly : SequenceMix.Standard();
        var sequences = new UnifiedSequences(s.Vocabulary, s.Train, s.Corpus.Train, mix);
        using var features = visual == VisualInterface.Tokens ? null : Scopes.InChunks(s.Train.Count, 256, (start, n) =>
            VisualFeatures.For(visual, grid!, s.TrainImages.narrow(0, start, n).to(device), s.Train.Codes.Codes.narrow(0, start, n).to(device))!);
        var trained = UnifiedTraining.Train(name, config, sequences, s.Config.Unified, s.DataKey, pretrained, "text", features, device);
        var scores = UnifiedEvaluation.Evaluate(s.Pipeline(trained.Model), s.Probe, s.TestSet, s.Config.Evaluation);
        return new UnifiedLlmResult(name, visual, trained, scores);
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
        }, results.Select(r =>
        {
            var c = r.Scores.Captions;
            return (IReadOnlyList<object?>)new object?[]
            {
                r.Name, r.Interface.ToString(), 100 * c.ObjectMatch, 100 * c.ObjectChance, 100 * c.Attributes, 100 * c.AttributesChance,
                100 * c.Size, 100 * c.Colour, 100 * c.Shape, 100 * c.CountRight, 100 * c.ExactShare, c.TokenF1, 100 * r.Scores.Vqa,
                r.Scores.Perplexity, r.Training.FromCache ? "cached" : r.Training.Seconds,
            };
        }), note: "Caption objects: the scene's objects named with size, colour and shape all right; caption attributes: each of the three judged alone, " +
            "for the named object paired with each scene object (size, colour, shape: one attribute; count: as many objects named as there are); " +
            $"chance: the same captions scored against shuffled scenes. Held-out text perplexity after text pretraining alone: {textOnlyPerplexity:0.00}.", measured: new[] { "train s" });
        var generation = ResultTable.FromRows("Unified LLM on Shapes: generation (text → image)", new[]
        {
            "variant", "guidance", "T2I simple %", "simple chance %", "T2I objects %", "T2I chance %", "T2I colours %", "colour chance %", "T2I shapes %", "T2I relation %", "T2I scenes %", "FD",
        }, results.Where(r => r.Scores.TextToImage is not null).Select(r =>
        {
            var t = r.Scores.TextToImage!;
            return (IReadOnlyList<object?>)new object?[]
            {
                r.Name, t.Guidance, 100 * t.Simple.ObjectAccuracy, 100 * t.SimpleChance.ObjectAccuracy, 100 * t.All.ObjectAccuracy, 100 * t.AllChance.ObjectAccuracy,
                100 * t.All.ColourAccuracy, 100 * t.AllChance.ColourAccuracy, 100 * t.All.ShapeAccuracy, 100 * t.All.RelationAccuracy, 100 * t.All.SceneAccuracy, t.FrechetDistance,
            };
        }), note: "Variants that can draw. T2I objects: prompted shape and colour found together in some cell; " +
            "colours / shapes: each attribute alone; relation: the prompt's \"left of\" / \"above\" holds between where the first two were found. Simple: one-object prompts. Chance: the same generated images scored against shuffled prompts. " +
            $"Guidance: the classifier-free guidance scale of {string.Join(", ", s.Config.Evaluation.Scales)} that drew most prompted objects for {s.TestSet.ValidationPrompts.Count} validation prompts, chosen per variant before the test prompts were drawn.");
        return (understanding, generation);
    }
}
