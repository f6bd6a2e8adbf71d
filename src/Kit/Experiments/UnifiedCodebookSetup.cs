// Notebook 05's set-up: UniCode's unified codebook on notebook 07's text model. The visual codebook is K rows of the
// text-pretrained GPT's word-embedding table (d_model wide, no projection: the tokenizer's latent is d_model wide), code
// k is text id Rows[k] (the shared layout), and each modality has its own softmax over its rows. The paradigms themselves
// live in Language/UnifiedCodebook.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Language;
using Kit.Language.UnifiedCodebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>Sizes of notebook 05 at one scale.</summary>
/// <param name="Llm">The unified LLM recipe: text model, the LLM's optimiser, image counts, sampling.</param>
/// <param name="Grid">Notebook 07's fixed-grid tokenizer recipe (its latent is widened to the LLM's embeddings here).</param>
/// <param name="TokenizerSteps">T, the tokenizer steps every paradigm gets.</param>
/// <param name="LlmSteps">U, the language-model steps every paradigm gets.</param>
/// <param name="DualPhases">P, the dual paradigm's tokenizer/LLM cycles.</param>
/// <param name="RampShare">The share of T over which the language-driven pull r ramps from 0 to 1 (the rest is the tail at 1).</param>
/// <param name="DecompressionWeight">The decompression task's weight in the sequence mix (the four standard tasks weigh 1, 1, 1,
/// 0.25).</param>
/// <param name="ContextLength">The LLM's context: a decompression row holds two image blocks (1 + 66 + 66 + 1 ids).</param>
/// <param name="DriftPoints">How many times over T + U steps the codebook drift is recorded.</param>
/// <param name="CodebookSize">K, the rows taken (notebook 07's 256; fewer at the tiny scale, whose text has few ids).</param>
public sealed record UnifiedCodebookConfig(UnifiedLlmRecipe Llm, GridTokenizerRecipe Grid, int TokenizerSteps, int LlmSteps,
    int DualPhases = 4, double RampShare = 0.8,
    double DecompressionWeight = 0.5, int ContextLength = 144, int DriftPoints = 50, int CodebookSize = 256)
{
    /// <summary>The tokenizer: notebook 07's, with a latent as wide as the LLM's embeddings (the codes are its rows).</summary>
    public TokenizerConfig Tokenizer => Grid.Tokenizer with { LatentDim = Llm.Text.Shape.Dim };

    /// <summary>The tokenizer's training: notebook 07's recipe for T steps.</summary>
    public TokenizerTrainingConfig TokenizerTraining => Grid.Training with { Steps = TokenizerSteps };

    /// <summary>The LLM's training: notebook 07's recipe for U steps.</summary>
    public LanguageTrainingConfig Unified => Llm.Unified with { Steps = LlmSteps };

    /// <summary>Steps of the language-driven ramp.</summary>
    public int RampSteps => Math.Max(1, (int)Math.Round(RampShare * TokenizerSteps));

    /// <summary>The separate baseline's quantizer: notebook 07's recipe with this codebook size.</summary>
    public QuantizerSpec SeparateQuantizer => Grid.Quantizer with { CodebookSize = CodebookSize };

    /// <summary>The experiment at <paramref name="scale"/>.</summary>
    public static UnifiedCodebookConfig For(RunScale scale, long seed = 0)
    {
        var grid = KitRecipes.GridTokenizer(scale, seed);
        // Default: six LLMs (four paradigms, two over stacked codes) and four tokenizer trainings (plus the two stacked ones) share the
        // 20-minute budget, so each
        // gets fewer steps than notebook 07's single model; the claims compare paradigms on equal budgets.
        // The tokenizer's latent is d_model (128) wide, which makes a step of batch 64 several times dearer than notebook 07's
        // 16-wide one; at the default scale its batch is halved.
        grid = grid with { Training = grid.Training with { BatchSize = scale.Pick(16, 32, 32, 64) } };
        var config = new UnifiedCodebookConfig(KitRecipes.UnifiedLlm(scale, seed), grid, TokenizerSteps: scale.Pick(8, 40, 180, 1500),
            LlmSteps: scale.Pick(8, 60, 450, 6000),
            DualPhases: scale.Pick(2, 2, 4, 6), CodebookSize: scale.Pick(32, 256, 256, 256)); // tiny: its text has a few hundred ids
        return config.Validate();
    }

    /// <summary>Checks the sizes; a bad one is named with its value.</summary>
    public UnifiedCodebookConfig Validate()
    {
        if (TokenizerSteps < 1) throw new ArgumentOutOfRangeException(nameof(TokenizerSteps), TokenizerSteps,
            "expected at least one tokenizer step");
        if (LlmSteps < 1) throw new ArgumentOutOfRangeException(nameof(LlmSteps), LlmSteps, "expected at least one language-model step");
        if (DualPhases < 1 || DualPhases > Math.Min(TokenizerSteps, LlmSteps))
            throw new ArgumentOutOfRangeException(nameof(DualPhases), DualPhases,
                $"expected 1 … {Math.Min(TokenizerSteps, LlmSteps)} cycles (each phase needs a step)");
        if (!(RampShare > 0 && RampShare <= 1)) throw new ArgumentOutOfRangeException(nameof(RampShare), RampShare,
            "expected a ramp share in (0, 1]");
        if (DecompressionWeight < 0) throw new ArgumentOutOfRangeException(nameof(DecompressionWeight), DecompressionWeight,
            "expected a task weight ≥ 0");
        if (ContextLength < 2 * 66 + 2) throw new ArgumentOutOfRangeException(nameof(ContextLength), ContextLength,
            "expected ≥ 134: a decompression row holds two 64-code image blocks");
        if (DriftPoints < 2) throw new ArgumentOutOfRangeException(nameof(DriftPoints), DriftPoints, "expected at least 2 drift records");
        return this;
    }
}

/// <summary>What the paradigms share: the probe, corpus, text model, the rows taken, both vocabularies, training images, test
/// set.</summary>
/// <param name="Text">Notebook 07's text-pretrained GPT (offset vocabulary; its code rows were never trained).</param>
/// <param name="TextPerplexity">Its held-out perplexity (synthetic text).</param>
/// <param name="Rows">The text ids whose rows are the codebook.</param>
/// <param name="Shared">The shared layout: code k is text id Rows.Ids[k].</param>
/// <param name="Offset">Notebook 07's layout with K codes (the separate baseline).</param>
/// <param name="LanguageRows">The rows C_L [K, d] of the text-pretrained table (a copy).</param>
/// <param name="CodebookNote">How K was set: the asked size, or fewer when the text has too few ids (WordNet not installed).</param>
public sealed record UnifiedCodebookSetup(UnifiedCodebookConfig Config, RunScale Scale, ProbeNetwork Probe, TextCorpus Corpus,
    UnifiedModel Text,
    double TextPerplexity, object TextKey, CodebookRows Rows, UnifiedVocabulary Shared, UnifiedVocabulary Offset, Tensor LanguageRows,
    IReadOnlyList<ShapesScene> TrainScenes, Tensor TrainImages, UnifiedTestSet TestSet, string CodebookNote)
{
    /// <summary>The vocabulary a paradigm's LLM reads.</summary>
    public UnifiedVocabulary VocabularyOf(ICodebookParadigm paradigm) => paradigm.SharesRows ? Shared : Offset;

    /// <summary>The GPT config of a paradigm: the text model's, with the context for decompression rows and the paradigm's
    /// layout.</summary>
    public GptConfig GptOf(ICodebookParadigm paradigm) => paradigm.SharesRows
        ? Text.Gpt.Config with { ContextLength = Config.ContextLength, VocabSize = Shared.Count, VisualCodesFrom = null,
            SharedCodeIds = Rows.Ids }
        : Text.Gpt.Config with { ContextLength = Config.ContextLength, VocabSize = Offset.Count, VisualCodesFrom = Offset.CodeOffset };

    /// <summary>What every paradigm's sequences are built from, for the cache keys.</summary>
    public object DataKey => new { Text = TextKey, Rows = string.Join(",", Rows.Ids), Config.Llm.TrainImages, Config.Llm.Seed };

    /// <summary>The training images encoded by <paramref name="tokenizer"/> (put in eval mode).</summary>
    public VisualCorpus Encode(ImageTokenizer tokenizer, Device device)
    {
        tokenizer.eval();
        return new VisualCorpus(TrainScenes, tokenizer.EncodeAll(TrainImages, device));
    }

    /// <summary>
    /// A GPT of <paramref name="paradigm"/>'s layout holding the text model's weights: the shared layout drops the
    /// offset layout's untrained code rows (its per-modality text softmax never saw them, so text predictions are unchanged).
    /// </summary>
    public UnifiedModel StartOf(ICodebookParadigm paradigm, Device device)
    {
        var model = new UnifiedModel(UnifiedModelConfig.For(VocabularyOf(paradigm), GptOf(paradigm), imagePositions: 64)).to(device);
        var weights = Text.Gpt.state_dict();
        using (no_grad())
            foreach (var (name, p) in model.Gpt.named_parameters())
            {
                var from = weights[name];
                p.copy_(from.shape[0] == p.shape[0] ? from : from.narrow(0, 0, p.shape[0]));
            }
        return model;
    }
}

/// <summary>Notebook 05's set-up.</summary>
public static partial class UnifiedCodebookExperiment
{
    /// <summary>The probe, notebook 07's corpus and text model (cached, shared), the rows by <paramref name="rule"/>, both vocabularies,
    /// the images.</summary>
    public static UnifiedCodebookSetup Prepare(RunScale scale, long seed = 0, Device? device = null,
        CodebookRowRule rule = CodebookRowRule.SmallestAboveThreshold)
        => Prepare(UnifiedCodebookConfig.For(scale, seed), scale, device, rule);

    /// <summary>The set-up of <paramref name="config"/>.</summary>
    public static UnifiedCodebookSetup Prepare(UnifiedCodebookConfig config, RunScale scale, Device? device = null,
        CodebookRowRule rule = CodebookRowRule.SmallestAboveThreshold)
    {
        device ??= Devices.Default;
        config.Validate();
        long seed = config.Llm.Seed;
        var probe = ProbeNetwork.Trained(KitRecipes.Probe(scale, seed), device);
        var textModel = KitRecipes.TextModel(config.Llm.Text, device);
        var (offset, corpus, text, perplexity, textKey) = (textModel.Vocabulary, textModel.Corpus, textModel.Model, textModel.Perplexity,
            textModel.Key);
        // Every code is a distinct word: a text with fewer ids than the asked K (no WordNet) gets a smaller codebook, for
        // every paradigm and the separate baseline alike, and the notebook prints why.
        int asked = config.CodebookSize, fitted = CodebookRows.FitCount(asked, offset.TextCount);
        var note = fitted == asked
            ? $"K = {asked} codes: rows of {asked} of the text's {offset.TextCount:N0} ids"
            : $"K = {fitted} codes, not {asked}: the text has only {offset.TextCount:N0} ids" +
              (WordNet.Installed is null ? $" (WordNet {WordNet.Absence})" : "") +
              $", and each code must be a word of its own; {fitted} is the largest power of two they hold. " +
              $"The separate baseline gets {fitted} codes too (one budget)";
        if (fitted != asked) config = config with { CodebookSize = fitted };
        var rows = CodebookRows.Pick(text.Gpt.TokenEmbeddings, offset.TextCount, config.CodebookSize, rule);
        Tensor language;
        using (no_grad())
            language = text.Gpt.TokenEmbeddings.index_select(0, tensor(rows.Ids.Select(i => (long)i).ToArray(),
                device: device)).detach().clone();
        using var train = new ShapesDataset(config.Llm.TrainImages, Split.Train, new ShapesOptions(Resolution: 32, Seed: seed + 7)).Batch(0,
            config.Llm.TrainImages);
        return new UnifiedCodebookSetup(Config: config, Scale: scale, Probe: probe, Corpus: corpus, Text: text, TextPerplexity: perplexity,
            TextKey: textKey,
            Rows: rows, Shared: UnifiedVocabulary.SharedWithText(offset.Text, rows.Ids), Offset: new UnifiedVocabulary(offset.Text,
                config.CodebookSize),
            LanguageRows: language, TrainScenes: train.Scenes!, TrainImages: train.Images.clone(),
            TestSet: UnifiedTestSet.Shapes(config.Llm.TestImages, seed, corpus.HeldOut), CodebookNote: note);
    }
}
