// The recipes every notebook with language shares, owned here and not by any one notebook: the text model (corpus,
// vocabulary, GPT shape, text pretraining — one cached model for notebooks 05, 06 and 07), the unified LLM over any
// image tokenizer (its data, its training from the text model, its evaluation) and notebook 07's fixed-grid tokenizer,
// which notebook 05's paradigms reuse.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Language;
using Kit.Quantizers;
using Kit.Tokenizers;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>The text model: its corpus, its GPT shape, its pretraining, and the codebook size its vocabulary leaves room for.</summary>
public sealed record TextModelRecipe(TextCorpusConfig Corpus, GptShape Shape, LanguageTrainingConfig Pretraining, int CodebookSize);

/// <summary>The text model trained (or loaded): its vocabulary, corpus, model, held-out perplexity (synthetic text) and cache
/// key.</summary>
public sealed record TextModel(TextModelRecipe Recipe, UnifiedVocabulary Vocabulary, TextCorpus Corpus, UnifiedModel Model,
    double Perplexity, object Key);

/// <summary>The unified LLM over any tokenizer: the text model it starts from, its unified training, images, and sampling.</summary>
/// <param name="Temperature">Text → image sampling temperature.</param>
public sealed record UnifiedLlmRecipe(TextModelRecipe Text, LanguageTrainingConfig Unified, int TrainImages, int TestImages,
    double Temperature = 0.8, long Seed = 0)
{
    /// <summary>How text → image is sampled and the guidance scales tried on validation prompts.</summary>
    public UnifiedEvaluationOptions Evaluation => new(Temperature, Seed);
}

/// <summary>
/// Notebook 07's fixed-grid image tokenizer, its own, wider and longer-trained than the quantizer sweeps' (32 channels,
/// dead-code restart): the sweeps' 16-channel tokenizers reconstruct Shapes as colourless blobs that the probe reads
/// poorly, so no language model on their codes could draw or caption a recognisable scene.
/// </summary>
public sealed record GridTokenizerRecipe(TokenizerConfig Tokenizer, QuantizerSpec Quantizer, TokenizerTrainingConfig Training);

/// <summary>What a unified LLM over one tokenizer is trained and judged on: corpus, vocabulary, the encoded training images, the test
/// set.</summary>
/// <param name="TokenizerKey">What decides the tokenizer's weights (its cache key), for the models' keys.</param>
/// <param name="TokenizerMetrics">How the tokenizer reconstructs, when it was measured.</param>
public sealed record UnifiedLlmSetup(UnifiedLlmRecipe Recipe, RunScale Scale, IVisualTokenizer Tokenizer, object TokenizerKey,
    TokenizerMetrics? TokenizerMetrics,
    ProbeNetwork Probe, TextCorpus Corpus, UnifiedVocabulary Vocabulary, VisualCorpus Train, Tensor TrainImages, UnifiedTestSet TestSet)
{
    /// <summary>The GPT over this vocabulary, each modality with its own softmax.</summary>
    public GptConfig Gpt => Recipe.Text.Shape.Over(Vocabulary);

    /// <summary>What the sequences are built from, for the models' cache keys.</summary>
    public object DataKey => new { Tokenizer = TokenizerKey, Recipe.Text.Corpus, Recipe.TrainImages, TextIds = Vocabulary.TextCount };

    /// <summary>What text pretraining reads: the corpus and the vocabulary, not the tokenizer (so every notebook on this corpus shares one
    /// text model).</summary>
    public object TextKey => KitRecipes.TextKey(Recipe.Text, Vocabulary);

    /// <summary>A pipeline of <paramref name="model"/> with this set-up's vocabulary and tokenizer.</summary>
    public UnifiedPipeline Pipeline(UnifiedModel model) => new(model, Vocabulary, Tokenizer);

    /// <summary>Seconds one pass over the training images' sequences took (NaN when loaded).</summary>
    public double SecondsPerEpoch(UnifiedTrainingResult trained) =>
        trained.Seconds / ((double)Recipe.Unified.Steps * Recipe.Unified.BatchSize / Train.Count);
}

/// <summary>One trained variant and its scores.</summary>
public sealed record UnifiedLlmResult(string Name, VisualInterface Interface, UnifiedTrainingResult Training, UnifiedScores Scores)
{
    /// <summary>The trained model.</summary>
    public UnifiedModel Model => Training.Model;
}

/// <summary>The language recipes.</summary>
public static partial class KitRecipes
{
    /// <summary>The text model at <paramref name="scale"/>.</summary>
    public static TextModelRecipe Text(RunScale scale, long seed = 0) => new(
        // Default: on a 2-core CPU the small model trains several times faster than a deeper one and, given the steps,
        // captions about as well; steps buy more than depth here.
        Corpus: new TextCorpusConfig(Scenes: scale.Pick(50, 1000, 4000, 8000), WordNetLines: scale.Pick(50, 1000, 1000, 20_000),
            HeldOutScenes: scale.Pick(20, 200, 200, 200),
            Seed: seed),
        Shape: new GptShape(Layers: scale.Pick(1, 2, 2, 6), Heads: 4, Dim: scale.Pick(32, 128, 128, 256), ContextLength: 96),
        Pretraining: new LanguageTrainingConfig(Steps: scale.Pick(4, 100, 300, 1000), BatchSize: scale.Pick(8, 32, 32, 32),
            LearningRate: 2e-3, Seed: seed),
        CodebookSize: 256);

    /// <summary>The unified LLM at <paramref name="scale"/>.</summary>
    public static UnifiedLlmRecipe UnifiedLlm(RunScale scale, long seed = 0) => new(Text(scale, seed),
        // Loss weights of visual targets: an image → text or VQA row is given its image, and predicting those codes is
        // unconditional image modelling that the row is not judged on, so they weigh 0; the codes a text → image row asks
        // for weigh half a text id (unconditional drawing for guidance comes from the text → image rows without a caption).
        Unified: new LanguageTrainingConfig(Steps: scale.Pick(4, 150, 2000, 6000), BatchSize: scale.Pick(8, 32, 32, 32), LearningRate: 2e-3,
            ImageLossWeight: 0.5,
            Seed: seed, GivenImageLossWeight: 0),
        TrainImages: scale.Pick(64, 2048, 8192, 20_000), TestImages: scale.Pick(4, 32, 128, 512), Seed: seed);

    /// <summary>Notebook 07's fixed-grid tokenizer at <paramref name="scale"/>.</summary>
    public static GridTokenizerRecipe GridTokenizer(RunScale scale, long seed = 0) => new(
        Tokenizer: new TokenizerConfig(Channels: 32, LatentDim: 16),
        Quantizer: new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 256, KmeansInit: true, DeadCodeThreshold: 1.0),
        Training: TokenizerTraining(scale, seed) with { Steps = scale.Pick(6, 150, 500, 1500) });

    /// <summary>The text model's cache key: the corpus and the vocabulary's shape, nothing of any image tokenizer.</summary>
    public static object TextKey(TextModelRecipe recipe, UnifiedVocabulary vocabulary) => new { recipe.Corpus,
        TextIds = vocabulary.TextCount, vocabulary.CodebookSize };

    /// <summary>The text-pretrained GPT of <paramref name="recipe"/> (cached: every notebook on this corpus shares it) and its held-out
    /// perplexity.</summary>
    public static TextModel TextModel(TextModelRecipe recipe, Device? device = null)
    {
        var corpus = TextCorpus.Build(recipe.Corpus);
        var vocabulary = new UnifiedVocabulary(TextTokenizer.Fit(corpus.All), recipe.CodebookSize);
        var key = TextKey(recipe, vocabulary);
        var trained = UnifiedTraining.PretrainText(vocabulary, recipe.Shape.Over(vocabulary), corpus.Train, recipe.Pretraining, key,
            device);
        return new TextModel(recipe, vocabulary, corpus, trained.Model, LanguageTraining.Perplexity(trained.Model, vocabulary,
            corpus.HeldOut), key);
    }

    /// <summary>
    /// The unified LLM's data over <paramref name="tokenizer"/> (any: LaVIT's dynamic one encodes each training image to its own
    /// number of codes): the corpus, the vocabulary, the training images encoded once, the test set.
    /// </summary>
    public static UnifiedLlmSetup UnifiedData(UnifiedLlmRecipe recipe, RunScale scale, IVisualTokenizer tokenizer, object tokenizerKey,
        ProbeNetwork probe,
        TokenizerMetrics? metrics = null, Device? device = null)
    {
        device ??= Devices.Default;
        var corpus = TextCorpus.Build(recipe.Text.Corpus);
        var vocabulary = new UnifiedVocabulary(TextTokenizer.Fit(corpus.All), (int)tokenizer.CodebookSize);
        using var train = new ShapesDataset(recipe.TrainImages, Split.Train, new ShapesOptions(Resolution: tokenizer.ImageSize,
            Seed: recipe.Seed + 7))
            .Batch(0, recipe.TrainImages);
        var codes = tokenizer.EncodeAll(train.Images, device);
        var test = UnifiedTestSet.Shapes(recipe.TestImages, recipe.Seed, corpus.HeldOut);
        return new UnifiedLlmSetup(recipe, scale, tokenizer, tokenizerKey, metrics, probe, corpus, vocabulary,
            new VisualCorpus(train.Scenes!, codes),
            train.Images.clone(), test);
    }

    /// <summary>The GPT trained on text alone over <paramref name="s"/>'s vocabulary (cached), and its held-out perplexity (synthetic,
    /// WordNet).</summary>
    public static (UnifiedTrainingResult Model, double Perplexity, double WordNetPerplexity) PretrainText(UnifiedLlmSetup s,
        Device? device = null)
    {
        var trained = UnifiedTraining.PretrainText(s.Vocabulary, s.Gpt, s.Corpus.Train, s.Recipe.Text.Pretraining, s.TextKey, device);
        return (trained, LanguageTraining.Perplexity(trained.Model, s.Vocabulary, s.Corpus.HeldOut),
            LanguageTraining.Perplexity(trained.Model, s.Vocabulary, s.Corpus.HeldOutWordNet));
    }

    /// <summary>
    /// One unified LLM on <paramref name="s"/>'s sequences, starting from the text-pretrained GPT (cached), and its scores.
    /// Tokens: both directions with cross-entropy; Regression: continuous embeddings in, L2 on the next one (a fixed-grid
    /// tokenizer's latents); PatchProjection: pixels in through one linear layer, captioning and VQA only.
    /// </summary>
    public static UnifiedLlmResult TrainUnified(UnifiedLlmSetup s, UnifiedModel pretrained, VisualInterface visual, string name,
        Device? device = null)
    {
        device ??= Devices.Default;
        var grid = visual == VisualInterface.Tokens ? null : s.Tokenizer as ImageTokenizer
            ?? throw new ArgumentException($"the {visual} interface reads a fixed-grid ImageTokenizer's latents or patches; this " +
                $"set-up's tokenizer is a {s.Tokenizer.GetType().Name}.",
                nameof(visual));
        int featureDim = grid is null ? 0 : visual == VisualInterface.Regression ? grid.Config.LatentDim
            : 3 * grid.Config.DownsampleFactor * grid.Config.DownsampleFactor;
        var config = UnifiedModelConfig.For(s.Vocabulary, s.Gpt, visual, featureDim, imagePositions: s.Tokenizer.MaxCodesPerImage);
        var mix = visual == VisualInterface.PatchProjection ? SequenceMix.UnderstandingOnly : SequenceMix.Standard();
        var sequences = new UnifiedSequences(s.Vocabulary, s.Train, s.Corpus.Train, mix);
        using var features = grid is null ? null : Scopes.InChunks(s.Train.Count, 256, (start, n) =>
            VisualFeatures.For(visual, grid, s.TrainImages.narrow(0, start, n).to(device), s.Train.Codes.Codes.narrow(0, start,
                n).to(device))!);
        var trained = UnifiedTraining.Train(name, config, sequences, s.Recipe.Unified, s.DataKey, pretrained, "text", features, device);
        var scores = UnifiedEvaluation.Evaluate(s.Pipeline(trained.Model), s.Probe, s.TestSet, s.Recipe.Evaluation);
        return new UnifiedLlmResult(name, visual, trained, scores);
    }
}
