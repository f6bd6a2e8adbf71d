// Notebook 05 as functions: UniCode's unified codebook. The visual codebook is 256 rows of the text-pretrained GPT's
// word-embedding table (d_model wide, no projection: the tokenizer's latent is d_model wide), code k is text id Rows[k]
// (the shared layout), and each modality has its own softmax over its rows. Three ways of learning it, on the same
// budget of tokenizer steps T and language-model steps U:
//   Frozen             the tokenizer quantizes onto the frozen rows; the LLM keeps its embedding table frozen too.
//   Dual alternating   P cycles of T/P tokenizer steps and U/P LLM steps; each phase starts from the other's codebook
//                      (the tokenizer's gradient-learned copy and the LLM's rows) and writes its own.
//   Language-driven    an EMA codebook pulled toward the rows, C_t = (1 − r)·Ê + r·C_L, r = min(1, step / ramp) then a
//                      tail at 1, so the tokenizer ends on exactly the LLM's rows; the LLM's table stays frozen.
// Baseline: a separate EMA codebook of the same width behind the text ids (notebook 07's offset layout), whose LLM trains
// its whole table. The LLM trains on notebook 07's sequences plus in-context decompression (on or off).
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

/// <summary>How the unified codebook is learned (UniCode §3.2), and the separate-codebook baseline.</summary>
public enum CodebookParadigm { Frozen, DualAlternating, LanguageDriven, Separate }

/// <summary>Sizes of notebook 05 at one scale.</summary>
/// <param name="Llm">Notebook 07's config: corpus, text model, probe, image counts, the LLM's optimiser.</param>
/// <param name="TokenizerSteps">T, the tokenizer steps every paradigm gets.</param>
/// <param name="LlmSteps">U, the language-model steps every paradigm gets.</param>
/// <param name="DualPhases">P, the dual paradigm's tokenizer/LLM cycles.</param>
/// <param name="RampShare">The share of T over which the language-driven pull r ramps from 0 to 1 (the rest is the tail at 1).</param>
/// <param name="DecompressionWeight">The decompression task's weight in the sequence mix (the four standard tasks weigh 1, 1, 1, 0.25).</param>
/// <param name="ContextLength">The LLM's context: a decompression row holds two image blocks (1 + 66 + 66 + 1 ids).</param>
/// <param name="DriftPoints">How many times over T + U steps the codebook drift is recorded.</param>
/// <param name="CodebookSize">K, the rows taken (notebook 07's 256; fewer at the tiny scale, whose text has few ids).</param>
public sealed record UnifiedCodebookConfig(UnifiedLlmConfig Llm, int TokenizerSteps, int LlmSteps, int DualPhases = 4, double RampShare = 0.8,
    double DecompressionWeight = 0.5, int ContextLength = 144, int DriftPoints = 50, int CodebookSize = 256)
{
    /// <summary>The tokenizer: notebook 07's, with a latent as wide as the LLM's embeddings (the codes are its rows).</summary>
    public TokenizerConfig Tokenizer => Llm.Tokenizer with { LatentDim = Llm.Model.Dim };

    /// <summary>The tokenizer's training: notebook 07's recipe for T steps.</summary>
    public TokenizerTrainingConfig TokenizerTraining => Llm.TokenizerTraining with { Steps = TokenizerSteps };

    /// <summary>The LLM's training: notebook 07's recipe for U steps.</summary>
    public LanguageTrainingConfig Unified => Llm.Unified with { Steps = LlmSteps };

    /// <summary>Steps of the language-driven ramp.</summary>
    public int RampSteps => Math.Max(1, (int)Math.Round(RampShare * TokenizerSteps));

    /// <summary>The separate baseline's quantizer: notebook 07's recipe with this codebook size.</summary>
    public QuantizerSpec SeparateQuantizer => Llm.Quantizer with { CodebookSize = CodebookSize };

    /// <summary>The experiment at <paramref name="scale"/>.</summary>
    public static UnifiedCodebookConfig For(RunScale scale, long seed = 0)
    {
        var llm = UnifiedLlmConfig.For(scale, seed);
        // Default: six LLMs (four paradigms, two over stacked codes) and four tokenizer trainings (plus the two stacked ones) share the 20-minute budget, so each
        // gets fewer steps than notebook 07's single model; the claims compare paradigms on equal budgets.
        // The tokenizer's latent is d_model (128) wide, which makes a step of batch 64 several times dearer than notebook 07's
        // 16-wide one; at the default scale its batch is halved.
        llm = llm with { TokenizerTraining = llm.TokenizerTraining with { BatchSize = scale.Pick(16, 32, 32, 64) } };
        var config = new UnifiedCodebookConfig(llm, TokenizerSteps: scale.Pick(8, 40, 180, 1500), LlmSteps: scale.Pick(8, 60, 450, 6000),
            DualPhases: scale.Pick(2, 2, 4, 6), CodebookSize: scale.Pick(32, 256, 256, 256)); // tiny: its text has a few hundred ids
        return config.Validate();
    }

    /// <summary>Checks the sizes; a bad one is named with its value.</summary>
    public UnifiedCodebookConfig Validate()
    {
        if (TokenizerSteps < 1) throw new ArgumentOutOfRangeException(nameof(TokenizerSteps), TokenizerSteps, "expected at least one tokenizer step");
        if (LlmSteps < 1) throw new ArgumentOutOfRangeException(nameof(LlmSteps), LlmSteps, "expected at least one language-model step");
        if (DualPhases < 1 || DualPhases > Math.Min(TokenizerSteps, LlmSteps))
            throw new ArgumentOutOfRangeException(nameof(DualPhases), DualPhases, $"expected 1 … {Math.Min(TokenizerSteps, LlmSteps)} cycles (each phase needs a step)");
        if (!(RampShare > 0 && RampShare <= 1)) throw new ArgumentOutOfRangeException(nameof(RampShare), RampShare, "expected a ramp share in (0, 1]");
        if (DecompressionWeight < 0) throw new ArgumentOutOfRangeException(nameof(DecompressionWeight), DecompressionWeight, "expected a task weight ≥ 0");
        if (ContextLength < 2 * 66 + 2) throw new ArgumentOutOfRangeException(nameof(ContextLength), ContextLength, "expected ≥ 134: a decompression row holds two 64-code image blocks");
        if (DriftPoints < 2) throw new ArgumentOutOfRangeException(nameof(DriftPoints), DriftPoints, "expected at least 2 drift records");
        return this;
    }
}

/// <summary>What the paradigms share: the probe, corpus, text model, the rows taken, both vocabularies, training images, test set.</summary>
/// <param name="Text">Notebook 07's text-pretrained GPT (offset vocabulary; its code rows were never trained).</param>
/// <param name="TextPerplexity">Its held-out perplexity (synthetic text).</param>
/// <param name="Rows">The text ids whose rows are the codebook.</param>
/// <param name="Shared">The shared layout: code k is text id Rows.Ids[k].</param>
/// <param name="Offset">Notebook 07's layout with K codes (the separate baseline).</param>
/// <param name="LanguageRows">The rows C_L [K, d] of the text-pretrained table (a copy).</param>
/// <param name="CodebookNote">How K was set: the asked size, or fewer when the text has too few ids (WordNet not installed).</param>
public sealed record UnifiedCodebookSetup(UnifiedCodebookConfig Config, RunScale Scale, ProbeNetwork Probe, TextCorpus Corpus, UnifiedModel Text, double TextPerplexity,
    object TextKey, CodebookRows Rows, UnifiedVocabulary Shared, UnifiedVocabulary Offset, Tensor LanguageRows, IReadOnlyList<ShapesScene> TrainScenes, Tensor TrainImages,
    UnifiedTestSet TestSet, string CodebookNote)
{
    /// <summary>The vocabulary a paradigm's LLM reads.</summary>
    public UnifiedVocabulary VocabularyOf(CodebookParadigm paradigm) => paradigm == CodebookParadigm.Separate ? Offset : Shared;

    /// <summary>The GPT config of a paradigm: the text model's, with the context for decompression rows and the paradigm's layout.</summary>
    public GptConfig GptOf(CodebookParadigm paradigm) => paradigm == CodebookParadigm.Separate
        ? Text.Gpt.Config with { ContextLength = Config.ContextLength, VocabSize = Offset.Count, VisualCodesFrom = Offset.CodeOffset }
        : Text.Gpt.Config with { ContextLength = Config.ContextLength, VocabSize = Shared.Count, VisualCodesFrom = null, SharedCodeIds = Rows.Ids };

    /// <summary>What every paradigm's sequences are built from, for the cache keys.</summary>
    public object DataKey => new { Text = TextKey, Rows = string.Join(",", Rows.Ids), Config.Llm.TrainImages, Config.Llm.Seed };
}

/// <summary>One record of the codebook drift at a step of T + U.</summary>
/// <param name="Step">Step of the whole run (tokenizer steps first; the dual paradigm interleaves them).</param>
/// <param name="Agreement">Mean cosine between the tokenizer's lookup row of each code and the LLM's row of its text id.</param>
/// <param name="Movement">‖W − W₀‖ / ‖W₀‖ over the LLM's code rows, W₀ the text-pretrained rows.</param>
public sealed record DriftPoint(int Step, double Agreement, double Movement);

/// <summary>One paradigm trained and judged.</summary>
public sealed record UnifiedCodebookResult(string Name, CodebookParadigm Paradigm, bool Decompression, ImageTokenizer Tokenizer, TokenizerMetrics TokenizerMetrics,
    UnifiedModel Model, UnifiedVocabulary Vocabulary, UnifiedScores Scores, IReadOnlyList<DriftPoint> Drift, double Seconds, bool FromCache)
{
    /// <summary>The pipeline of this paradigm's model, vocabulary and tokenizer.</summary>
    public UnifiedPipeline Pipeline => new(Model, Vocabulary, Tokenizer);
}

/// <summary>A stacked tokenizer over the shared rows: D codes per position, aggregated by concatenation or cumulative sum.</summary>
/// <param name="LlmPositions">Positions a given image takes in the LLM: one per code-map position, whatever D.</param>
/// <param name="LatentWidth">Width of the tokenizer's latent per position (concatenation: D·d; cumulative sum: d).</param>
public sealed record StackedCodebookResult(int Depth, StackAggregation Aggregation, ImageTokenizer Tokenizer, TokenizerMetrics Metrics, int LlmPositions, int LatentWidth, bool FromCache)
{
    /// <summary>How the LLM reads a position's D codes: one embedding, or the sum of D, or D joined and mapped back to d.</summary>
    public string LlmInput(int d) => Depth == 1 ? $"its code's row ({d})" : Aggregation == StackAggregation.CumulativeSum
        ? $"sum of {Depth} rows ({d})" : $"{Depth} rows joined ({Depth * d}) → learned {Depth * d}→{d} map";
}

/// <summary>A tokenizer and the drift recorded while it trained (one cache entry).</summary>
public sealed class TrackedTokenizer : nn.Module
{
    readonly ImageTokenizer tokenizer;
    readonly Tensor drift; // [points, 3]: step, agreement, movement

    public TrackedTokenizer(ImageTokenizer tokenizer, int points) : base(nameof(TrackedTokenizer))
    {
        this.tokenizer = tokenizer;
        drift = full(points, 3, double.NaN, dtype: float64);
        register_buffer(nameof(drift), drift);
        RegisterComponents();
    }

    public ImageTokenizer Tokenizer => tokenizer;
    internal Tensor DriftTable => drift;
    public IReadOnlyList<DriftPoint> Drift => UnifiedCodebookExperiment.ReadDrift(drift);
}

/// <summary>The dual paradigm's tokenizer and LLM, trained in one loop, with the drift recorded (one cache entry).</summary>
public sealed class DualCodebookRun : nn.Module
{
    readonly ImageTokenizer tokenizer;
    readonly UnifiedModel llm;
    readonly Tensor drift;

    public DualCodebookRun(ImageTokenizer tokenizer, UnifiedModel llm, int points) : base(nameof(DualCodebookRun))
    {
        this.tokenizer = tokenizer;
        this.llm = llm;
        drift = full(points, 3, double.NaN, dtype: float64);
        register_buffer(nameof(drift), drift);
        RegisterComponents();
    }

    public ImageTokenizer Tokenizer => tokenizer;
    public UnifiedModel Llm => llm;
    internal Tensor DriftTable => drift;
    public IReadOnlyList<DriftPoint> Drift => UnifiedCodebookExperiment.ReadDrift(drift);
}

/// <summary>The steps of notebook 05.</summary>
public static class UnifiedCodebookExperiment
{
    // What a stored tokenizer or dual run means: bump when the paradigms' training changes.
    const int Version = 1;

    /// <summary>The probe, notebook 07's corpus and text model (cached, shared), the rows by <paramref name="rule"/>, both vocabularies, the images.</summary>
    public static UnifiedCodebookSetup Prepare(RunScale scale, long seed = 0, Device? device = null, CodebookRowRule rule = CodebookRowRule.SmallestAboveThreshold)
        => Prepare(UnifiedCodebookConfig.For(scale, seed), scale, device, rule);

    /// <summary>The set-up of <paramref name="config"/>.</summary>
    public static UnifiedCodebookSetup Prepare(UnifiedCodebookConfig config, RunScale scale, Device? device = null, CodebookRowRule rule = CodebookRowRule.SmallestAboveThreshold)
    {
        device ??= Devices.Default;
        config.Validate();
        long seed = config.Llm.Seed;
        var probe = ProbeNetwork.Trained(KitRecipes.Probe(scale, seed), device);
        var (offset, corpus, (text, perplexity), textKey) = UnifiedLlmExperiment.TextModel(config.Llm, device);
        // Every code is a distinct word: a text with fewer ids than the asked K (no WordNet) gets a smaller codebook, for
        // every paradigm and the separate baseline alike, and the notebook prints why.
        int asked = config.CodebookSize, fitted = CodebookRows.FitCount(asked, offset.TextCount);
        var note = fitted == asked
            ? $"K = {asked} codes: rows of {asked} of the text's {offset.TextCount:N0} ids"
            : $"K = {fitted} codes, not {asked}: the text has only {offset.TextCount:N0} ids{(TextCorpus.InstalledWordNet is null ? $" (WordNet {TextCorpus.WordNetAbsence})" : "")}, and each code must be a word of its own; " +
              $"{fitted} is the largest power of two they hold. The separate baseline gets {fitted} codes too (one budget)";
        if (fitted != asked) config = config with { CodebookSize = fitted };
        var rows = CodebookRows.Pick(text.Gpt.TokenEmbeddings, offset.TextCount, config.CodebookSize, rule);
        var shared = UnifiedVocabulary.SharedWithText(offset.Text, rows.Ids);
        Tensor language;
        using (no_grad()) language = text.Gpt.TokenEmbeddings.index_select(0, tensor(rows.Ids.Select(i => (long)i).ToArray(), device: device)).detach().clone();
        using var train = new ShapesDataset(config.Llm.TrainImages, Split.Train, new ShapesOptions(Resolution: 32, Seed: seed + 7)).Batch(0, config.Llm.TrainImages);
        var test = UnifiedTestSet.Shapes(config.Llm.TestImages, seed, corpus.HeldOut);
        return new UnifiedCodebookSetup(config, scale, probe, corpus, text, perplexity, textKey, rows, shared, new UnifiedVocabulary(offset.Text, config.CodebookSize), language, train.Scenes!, train.Images.clone(), test, note);
    }

    /// <summary>
    /// A GPT of <paramref name="paradigm"/>'s layout holding the text model's weights: the shared layout drops the
    /// offset layout's untrained code rows (its per-modality text softmax never saw them, so text predictions are unchanged).
    /// </summary>
    public static UnifiedModel StartOf(UnifiedCodebookSetup s, CodebookParadigm paradigm, Device? device = null)
    {
        device ??= Devices.Default;
        var vocabulary = s.VocabularyOf(paradigm);
        var model = new UnifiedModel(UnifiedModelConfig.For(vocabulary, s.GptOf(paradigm), imagePositions: 64)).to(device);
        var weights = s.Text.Gpt.state_dict();
        using (no_grad())
            foreach (var (name, p) in model.Gpt.named_parameters())
            {
                var from = weights[name];
                p.copy_(from.shape[0] == p.shape[0] ? from : from.narrow(0, 0, p.shape[0]));
            }
        return model;
    }

    /// <summary>The tokenizer's quantizer of a paradigm over the language rows (the separate baseline: its own EMA codebook, notebook 07's recipe).</summary>
    public static Quantizer QuantizerOf(UnifiedCodebookSetup s, CodebookParadigm paradigm, Func<Tensor>? rows = null)
    {
        int d = s.Config.Tokenizer.LatentDim;
        var language = s.LanguageRows;
        rows ??= () => language;
        return paradigm switch
        {
            CodebookParadigm.Frozen => new VectorQuantizer(d, new ExternalCodebook(rows)),
            CodebookParadigm.LanguageDriven => new VectorQuantizer(d, new LanguageDrivenCodebook(rows), kmeansInit: true, deadCodeThreshold: s.Config.Llm.Quantizer.DeadCodeThreshold),
            // The dual tokenizer's copy of the rows, learned by the codebook loss; it never restarts codes (the LLM reads them as words).
            CodebookParadigm.DualAlternating => new VectorQuantizer(d, new GradientCodebook(rows().detach())),
            CodebookParadigm.Separate => s.Config.SeparateQuantizer.Build(d),
            _ => throw new ArgumentOutOfRangeException(nameof(paradigm), paradigm, "expected Frozen, DualAlternating, LanguageDriven or Separate"),
        };
    }

    /// <summary>Drift records as stored (rows not yet written are NaN and left out).</summary>
    internal static IReadOnlyList<DriftPoint> ReadDrift(Tensor drift)
    {
        var values = drift.cpu().data<double>().ToArray();
        var points = new List<DriftPoint>();
        for (int i = 0; i + 2 < values.Length; i += 3)
            if (!double.IsNaN(values[i])) points.Add(new DriftPoint((int)values[i], values[i + 1], values[i + 2]));
        return points;
    }

    /// <summary>Agreement (mean row cosine) of <paramref name="lookup"/> with <paramref name="table"/>, and the table's movement from <paramref name="start"/>.</summary>
    public static (double Agreement, double Movement) Drift(Tensor lookup, Tensor table, Tensor start)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double agreement = nn.functional.cosine_similarity(lookup.detach(), table.detach(), dim: 1).mean().item<float>();
        double movement = ((table.detach() - start).norm() / start.norm()).item<float>();
        return (agreement, movement);
    }

    static void Record(Tensor drift, int index, int step, (double Agreement, double Movement) d)
    {
        using var noGrad = no_grad();
        drift[index].copy_(tensor(new[] { (double)step, d.Agreement, d.Movement }, dtype: float64));
    }

    /// <summary>Records at these steps of the run of <paramref name="total"/> steps: evenly spaced, the first and the last included.</summary>
    public static int[] DriftSteps(int total, int points) =>
        Enumerable.Range(0, points).Select(i => 1 + (int)Math.Round(i * (total - 1) / (double)(points - 1))).Distinct().ToArray();

    static ImageTokenizer NewTokenizer(UnifiedCodebookSetup s, Quantizer quantizer, Device device) =>
        new ImageTokenizer(s.Config.Tokenizer, quantizer, s.Config.TokenizerTraining.Resolution).to(device);

    /// <summary>
    /// Stage 1 of the Frozen, LanguageDriven and Separate paradigms: the tokenizer trained for T steps (cached), the
    /// language-driven pull ramped over its first RampShare of them, the drift recorded against the text-pretrained rows.
    /// </summary>
    public static (TrackedTokenizer Run, bool FromCache, double Seconds) TrainTokenizer(UnifiedCodebookSetup s, CodebookParadigm paradigm, Device? device = null)
    {
        device ??= Devices.Default;
        if (paradigm == CodebookParadigm.DualAlternating) throw new ArgumentException("the dual paradigm trains its tokenizer inside TrainDual.", nameof(paradigm));
        var c = s.Config;
        var points = DriftSteps(c.TokenizerSteps + c.LlmSteps, c.DriftPoints).Where(p => p <= c.TokenizerSteps).ToArray();
        double seconds = double.NaN;
        var key = new { Paradigm = paradigm.ToString(), c.Tokenizer, c.TokenizerTraining, c.RampShare, Quantizer = paradigm == CodebookParadigm.Separate ? c.SeparateQuantizer : null, s.DataKey };
        var (run, loaded) = ArtifactCache.GetOrTrain("codebook-tokenizer", key, Version,
            () => new TrackedTokenizer(NewTokenizer(s, QuantizerOf(s, paradigm), device), Math.Max(1, points.Length)).to(device),
            m =>
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var vq = (VectorQuantizer)m.Tokenizer.Quantizer;
                var pulled = vq.Codebook as LanguageDrivenCodebook;
                int recorded = 0;
                TokenizerTraining.Train(m.Tokenizer, c.TokenizerTraining, s.Probe, device, step =>
                {
                    if (pulled is not null) pulled.Ratio = LanguageDrivenCodebook.RatioAt(step, c.RampSteps);
                    if (paradigm != CodebookParadigm.Separate && recorded < points.Length && step == points[recorded])
                        Record(m.DriftTable, recorded++, step, Drift(vq.Codebook.Codes(), s.LanguageRows, s.LanguageRows));
                }, pulled is null ? null : step => LanguageDrivenCodebook.AdversarialScale(LanguageDrivenCodebook.RatioAt(step, c.RampSteps)));
                if (pulled is not null) pulled.Ratio = 1; // the tail ends on the rows themselves
                seconds = clock.Elapsed.TotalSeconds;
            });
        return (run, loaded, seconds);
    }

    /// <summary>The sequence mix: notebook 07's four tasks, plus decompression when asked.</summary>
    public static SequenceMix MixOf(UnifiedCodebookConfig config, bool decompression) =>
        decompression ? SequenceMix.Standard().With(DecompressionTask.Instance, config.DecompressionWeight) : SequenceMix.Standard();

    static VisualCorpus Encode(UnifiedCodebookSetup s, ImageTokenizer tokenizer, Device device)
    {
        tokenizer.eval();
        var codes = tokenizer.EncodeAll(s.TrainImages, device);
        return new VisualCorpus(s.TrainScenes, codes);
    }

    /// <summary>
    /// One paradigm: stage 1 (tokenizer), stage 2 (the LLM from the text model for U steps on the mix, the tokenizer frozen;
    /// Frozen and LanguageDriven keep the LLM's table frozen), or the dual paradigm's interleaved run; then both judged.
    /// </summary>
    public static UnifiedCodebookResult Train(UnifiedCodebookSetup s, CodebookParadigm paradigm, bool decompression = true, Device? device = null)
    {
        device ??= Devices.Default;
        var c = s.Config;
        string name = paradigm switch
        {
            CodebookParadigm.Frozen => "frozen",
            CodebookParadigm.DualAlternating => "dual alternating",
            CodebookParadigm.LanguageDriven => "language-driven iterative",
            _ => "separate codebook",
        } + (decompression ? "" : ", no decompression");
        var vocabulary = s.VocabularyOf(paradigm);
        ImageTokenizer tokenizer; UnifiedModel model; IReadOnlyList<DriftPoint> drift; double seconds; bool cached;
        if (paradigm == CodebookParadigm.DualAlternating)
        {
            var dual = TrainDual(s, decompression, device);
            (tokenizer, model, drift, seconds, cached) = (dual.Run.Tokenizer, dual.Run.Llm, dual.Run.Drift, dual.Seconds, dual.FromCache);
        }
        else
        {
            var stage1 = TrainTokenizer(s, paradigm, device);
            tokenizer = stage1.Run.Tokenizer;
            var sequences = new UnifiedSequences(vocabulary, Encode(s, tokenizer, device), s.Corpus.Train, MixOf(c, decompression));
            bool frozenTable = paradigm != CodebookParadigm.Separate;
            var config = UnifiedModelConfig.For(vocabulary, s.GptOf(paradigm), imagePositions: tokenizer.CodesPerImage);
            var trained = UnifiedTraining.Train($"unified codebook: {paradigm}" + (frozenTable ? ", word embeddings frozen" : ""), config, sequences, c.Unified,
                new { s.DataKey, Tokenizer = stage1.Run.Tokenizer.Config, paradigm, c.TokenizerTraining, c.RampShare }, StartOf(s, paradigm, device), "text", device: device,
                prepare: frozenTable ? m => m.Gpt.TokenEmbeddings.requires_grad_(false) : null);
            model = trained.Model;
            seconds = (stage1.FromCache ? double.NaN : stage1.Seconds) + trained.Seconds;
            cached = stage1.FromCache && trained.FromCache;
            var points = stage1.Run.Drift.ToList();
            if (frozenTable && points.Count > 0)
            {
                // Stage 2 never moves the frozen table: the drift after it, measured, closes the line.
                var rows = model.Gpt.TokenEmbeddings.index_select(0, tensor(s.Rows.Ids.Select(i => (long)i).ToArray(), device: device));
                var lookup = ((VectorQuantizer)tokenizer.Quantizer).Codebook.Codes();
                var (agreement, movement) = Drift(lookup, rows, s.LanguageRows);
                points.Add(new DriftPoint(c.TokenizerSteps + c.LlmSteps, agreement, movement));
            }
            drift = points;
        }
        var metrics = TokenizerTraining.Evaluate(tokenizer, c.TokenizerTraining, s.Probe, device);
        var scores = UnifiedEvaluation.Evaluate(new UnifiedPipeline(model, vocabulary, tokenizer), s.Probe, s.TestSet, c.Llm.Evaluation);
        return new UnifiedCodebookResult(name, paradigm, decompression, tokenizer, metrics, model, vocabulary, scores, drift, seconds, cached);
    }

    /// <summary>
    /// The dual paradigm (cached): P cycles of T/P tokenizer steps (reconstruction + commitment + codebook loss on the
    /// tokenizer's copy of the rows) and U/P LLM steps (every LLM weight, its table included, on sequences re-encoded by the
    /// tokenizer of that moment). A tokenizer phase starts from the LLM's rows, an LLM phase from the tokenizer's.
    /// </summary>
    public static (DualCodebookRun Run, bool FromCache, double Seconds) TrainDual(UnifiedCodebookSetup s, bool decompression, Device? device = null)
    {
        device ??= Devices.Default;
        var c = s.Config;
        int tokenizerPhase = c.TokenizerSteps / c.DualPhases, llmPhase = c.LlmSteps / c.DualPhases, total = c.DualPhases * (tokenizerPhase + llmPhase);
        var points = DriftSteps(total, c.DriftPoints);
        var vocabulary = s.Shared;
        var mix = MixOf(c, decompression);
        var config = UnifiedModelConfig.For(vocabulary, s.GptOf(CodebookParadigm.DualAlternating), imagePositions: 64);
        double seconds = double.NaN;
        var key = new { c.Tokenizer, c.TokenizerTraining, c.Unified, c.DualPhases, Mix = mix.Key, Model = config, s.DataKey };
        var ids = tensor(s.Rows.Ids.Select(i => (long)i).ToArray(), device: device);
        var (run, loaded) = ArtifactCache.GetOrTrain("codebook-dual", key, Version,
            () => new DualCodebookRun(NewTokenizer(s, QuantizerOf(s, CodebookParadigm.DualAlternating), device), new UnifiedModel(config).to(device), points.Length).to(device),
            m =>
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var start = StartOf(s, CodebookParadigm.DualAlternating, device);
                m.Llm.Gpt.load_state_dict(start.Gpt.state_dict());
                start.Dispose();
                var codebook = ((VectorQuantizer)m.Tokenizer.Quantizer).Codebook;
                using var images = TokenizerTraining.Images(c.TokenizerTraining, Split.Train, c.TokenizerTraining.TrainImages);
                var tokenizerImages = images.Images.to(device);
                var groups = new List<ParameterGroup>
                {
                    new("tokenizer", m.Tokenizer.parameters().ToList(), LearningRate: c.TokenizerTraining.LearningRate),
                    new("llm", m.Llm.parameters().ToList(), LearningRate: c.Unified.LearningRate, WeightDecay: c.Unified.WeightDecay),
                };
                var trainer = new Trainer(m, new TrainerOptions(total, c.Unified.LearningRate, WarmupSteps: Math.Min(100, total / 10), LogEvery: Math.Max(1, total / 100),
                    GradientClip: c.TokenizerTraining.GradientClip, Label: "unified codebook: dual alternating"), groups, StepSchedules.Cycle(("tokenizer", tokenizerPhase), ("llm", llmPhase)));
                UnifiedSequences? sequences = null;
                int recorded = 0, tokenizerSteps = 0, llmSteps = 0;
                bool? lastWasTokenizer = null;
                trainer.Run(step =>
                {
                    bool tokenizerTurn = (step - 1) % (tokenizerPhase + llmPhase) < tokenizerPhase;
                    var table = m.Llm.Gpt.TokenEmbeddings;
                    if (tokenizerTurn != lastWasTokenizer)
                    {
                        // A phase takes the other's codebook: the tokenizer the LLM's rows, the LLM the tokenizer's rows.
                        using (no_grad())
                        {
                            if (tokenizerTurn) codebook.Codes().copy_(table.index_select(0, ids));
                            else table.index_copy_(0, ids, codebook.Codes().detach());
                        }
                        if (!tokenizerTurn)
                        {
                            var corpus = Encode(s, m.Tokenizer, device);
                            corpus.Codes.Codes.DetachFromDisposeScope();
                            sequences = new UnifiedSequences(vocabulary, corpus, s.Corpus.Train, mix);
                            m.Tokenizer.train();
                        }
                        lastWasTokenizer = tokenizerTurn;
                    }
                    if (recorded < points.Length && step == points[recorded])
                        Record(m.DriftTable, recorded++, step, Drift(codebook.Codes(), table.index_select(0, ids), s.LanguageRows));
                    if (tokenizerTurn)
                    {
                        var (loss, metrics, _, _) = TokenizerTraining.ReconstructionStep(m.Tokenizer, tokenizerImages, c.TokenizerTraining, ++tokenizerSteps);
                        return new StepResult(loss, metrics);
                    }
                    var batch = sequences!.Sample(c.Unified.BatchSize, KitRandom.For(c.Unified.Seed, ++llmSteps), c.Unified.ImageLossWeight, c.Unified.GivenImageLossWeight);
                    var lm = m.Llm.Loss(batch);
                    batch.Dispose();
                    return new StepResult(lm.Total, new Dictionary<string, Tensor> { ["text"] = lm.Text.detach(), ["image"] = lm.Image.detach() });
                });
                sequences?.Images?.Codes.Dispose();
                seconds = clock.Elapsed.TotalSeconds;
            });
        return (run, loaded, seconds);
    }

    /// <summary>
    /// A stacked tokenizer of depth <paramref name="depth"/> over the shared rows, trained language-driven like D = 1 (cached):
    /// concatenation gives each layer a d_model-wide slice of a D·d_model latent (the LLM would need a learned D·d → d map to
    /// read the aggregate: one position, D·d wide); cumulative sum codes the residual with one shared codebook (the aggregate is d wide).
    /// </summary>
    public static StackedCodebookResult Stacked(UnifiedCodebookSetup s, int depth, StackAggregation aggregation, Device? device = null)
    {
        device ??= Devices.Default;
        if (depth < 1 || depth > 4) throw new ArgumentOutOfRangeException(nameof(depth), depth, "expected D in 1 … 4 code layers per position");
        var c = s.Config;
        int d = c.Tokenizer.LatentDim;
        bool concat = aggregation == StackAggregation.Concat;
        var tokenizerConfig = c.Tokenizer with { LatentDim = concat ? d * depth : d };
        var language = s.LanguageRows;
        var key = new { depth, aggregation = aggregation.ToString(), Tokenizer = tokenizerConfig, c.TokenizerTraining, c.RampShare, s.DataKey };
        double seconds = double.NaN;
        var (model, loaded) = ArtifactCache.GetOrTrain("codebook-stacked", key, Version,
            () => new ImageTokenizer(tokenizerConfig, new ResidualQuantizer(tokenizerConfig.LatentDim, depth, aggregation,
                width => new VectorQuantizer(width, new LanguageDrivenCodebook(() => language), kmeansInit: true, deadCodeThreshold: c.Llm.Quantizer.DeadCodeThreshold),
                sharedCodebook: !concat), c.TokenizerTraining.Resolution).to(device),
            m =>
            {
                var pulled = m.modules().OfType<LanguageDrivenCodebook>().ToList();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                TokenizerTraining.Train(m, c.TokenizerTraining, s.Probe, device, step =>
                {
                    foreach (var p in pulled) p.Ratio = LanguageDrivenCodebook.RatioAt(step, c.RampSteps);
                }, step => LanguageDrivenCodebook.AdversarialScale(LanguageDrivenCodebook.RatioAt(step, c.RampSteps)));
                foreach (var p in pulled) p.Ratio = 1;
                seconds = clock.Elapsed.TotalSeconds;
            });
        var metrics = TokenizerTraining.Evaluate(model, c.TokenizerTraining, s.Probe, device) with { TrainSeconds = seconds };
        return new StackedCodebookResult(depth, aggregation, model, metrics, (int)metrics.PositionsPerImage, concat ? d * depth : d, loaded);
    }

    /// <summary>
    /// The language-driven paradigm's stage 2 over a stacked tokenizer (D ≥ 2): the LLM reads a given image compressed (one
    /// aggregated input per position: the rows' sum, or their concatenation through a learned D·d → d map) and writes an
    /// asked-for image (text → image, decompression's second block) as all ĥŵD codes; its word-embedding table stays frozen
    /// like D = 1's, the map (concatenation) is trained. Same U steps and mix as the paradigms.
    /// </summary>
    public static UnifiedCodebookResult TrainStacked(UnifiedCodebookSetup s, StackedCodebookResult stacked, bool decompression = true, Device? device = null)
    {
        device ??= Devices.Default;
        if (stacked.Depth < 2) throw new ArgumentOutOfRangeException(nameof(stacked), stacked.Depth, "expected a stacked tokenizer (D ≥ 2); D = 1 is the language-driven paradigm of Train");
        var c = s.Config;
        var tokenizer = stacked.Tokenizer;
        int codes = tokenizer.CodesPerImage, positions = codes / stacked.Depth;
        var corpus = Encode(s, tokenizer, device) with { Depth = stacked.Depth };
        var sequences = new UnifiedSequences(s.Shared, corpus, s.Corpus.Train, MixOf(c, decompression));
        // A decompression row: [BOS] [IMG] ĥŵ compressed [/IMG] [IMG] ĥŵD codes [/IMG] [EOS].
        var gpt = s.GptOf(CodebookParadigm.LanguageDriven) with { ContextLength = Math.Max(c.ContextLength, 1 + (positions + 2) + (codes + 2) + 1) };
        var config = UnifiedModelConfig.For(s.Shared, gpt, imagePositions: codes) with { Stack = new CodeStack(stacked.Depth, stacked.Aggregation) };
        string name = $"language-driven iterative, D={stacked.Depth} {(stacked.Aggregation == StackAggregation.Concat ? "concatenation" : "cumulative sum")}" + (decompression ? "" : ", no decompression");
        var trained = UnifiedTraining.Train($"unified codebook: LanguageDriven, D={stacked.Depth} {stacked.Aggregation}, word embeddings frozen", config, sequences, c.Unified,
            new { s.DataKey, Tokenizer = tokenizer.Config, stacked.Depth, Aggregation = stacked.Aggregation.ToString(), c.TokenizerTraining, c.RampShare },
            StartOf(s, CodebookParadigm.LanguageDriven, device), "text", device: device, prepare: m => m.Gpt.TokenEmbeddings.requires_grad_(false));
        var scores = UnifiedEvaluation.Evaluate(new UnifiedPipeline(trained.Model, s.Shared, tokenizer), s.Probe, s.TestSet, c.Llm.Evaluation);
        // Its seconds are the LLM's alone: the stacked tokenizer's training is in the stacked tokenizers' table.
        return new UnifiedCodebookResult(name, CodebookParadigm.LanguageDriven, decompression, tokenizer, stacked.Metrics, trained.Model, s.Shared, scores,
            Array.Empty<DriftPoint>(), trained.Seconds, trained.FromCache);
    }

    /// <summary>
    /// How well <paramref name="result"/>'s LLM decompresses held-out images: given each test image compressed, the share of
    /// its ĥŵD codes predicted right at each position of the asked block (teacher-forced, argmax over the code rows), for the
    /// first layer's codes and for the later layers' (NaN at D = 1, where there are none). Chance is 1 / K.
    /// </summary>
    public static (double First, double Later) DecompressionAccuracy(UnifiedCodebookSetup s, UnifiedCodebookResult result, Device? device = null)
    {
        device ??= Devices.Default;
        var model = result.Model;
        int depth = model.Config.StackDepth;
        var codes = result.Tokenizer.EncodeAll(s.TestSet.Test.Images, device);
        var corpus = new VisualCorpus(s.TestSet.Test.Scenes!, codes) { Depth = depth };
        var sequences = new UnifiedSequences(result.Vocabulary, corpus, s.Corpus.Train, new SequenceMix(new (SequenceTask, double)[] { (DecompressionTask.Instance, 1) }, 0));
        var codeIds = tensor(result.Vocabulary.CodeIds.Select(i => (long)i).ToArray(), device: device);
        long[] right = new long[2], total = new long[2];
        model.eval();
        using var noGrad = no_grad();
        for (int start = 0; start < corpus.Count; start += 32)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(32, corpus.Count - start);
            var rows = Enumerable.Range(start, n).Select(i => sequences.Build(DecompressionTask.Instance, i, KitRandom.For(0, i))).ToList();
            using var batch = sequences.Pack(rows, Enumerable.Range(start, n).Select(i => (long)i).ToArray(), rows.Select(_ => (SequenceTask)DecompressionTask.Instance).ToArray(),
                imageLossWeight: 1, givenImageLossWeight: 0);
            var hidden = model.Gpt.Hidden(model.Inputs(batch.Tokens.to(device), batch.VisualInput.to(device), null, stacks: batch.Stacks?.to(device)));
            var predicted = model.Gpt.Head.Parts(hidden)[0].index_select(-1, codeIds).argmax(-1).cpu().data<long>().ToArray();
            var targets = batch.Targets.data<long>().ToArray();
            var asked = batch.Weights.data<float>().Zip(batch.VisualTarget.data<bool>(), (w, v) => w > 0 && v).ToArray();
            long t = batch.Tokens.shape[1];
            for (int row = 0; row < n; row++)
                for (long i = 0, k = 0; i < t; i++)
                {
                    long at = row * t + i;
                    if (!asked[at]) continue;
                    int layer = (int)(k++ % depth) == 0 ? 0 : 1;
                    total[layer]++;
                    if (result.Vocabulary.CodeOf((int)targets[at]) == predicted[at]) right[layer]++;
                }
        }
        return (right[0] / (double)Math.Max(1, total[0]), total[1] == 0 ? double.NaN : right[1] / (double)total[1]);
    }

    /// <summary>The paradigms' table: tokenizer (PSNR, rFD, usage), language (perplexity vs the text model), understanding, generation.</summary>
    public static ResultTable Table(UnifiedCodebookSetup s, IReadOnlyList<UnifiedCodebookResult> results) =>
        ResultTable.FromRows("UniCode's unified codebook on Shapes: paradigms on one budget", new[]
        {
            "paradigm", "decompression", "PSNR dB", "rFD", "usage %", "final agreement", "table moved", "text ppl", "caption objects %", "objects chance %", "caption attributes %",
            "VQA %", "T2I objects %", "T2I chance %", "T2I simple %", "simple chance %", "FD", "train s",
        }, results.Select(r =>
        {
            var t = r.Scores.TextToImage!;
            var last = r.Drift.Count > 0 ? r.Drift[^1] : null;
            return (IReadOnlyList<object?>)new object?[]
            {
                r.Name, r.Decompression ? "on" : "off", r.TokenizerMetrics.Psnr, r.TokenizerMetrics.RFd, 100 * r.TokenizerMetrics.Usage,
                last?.Agreement ?? double.NaN, last?.Movement ?? double.NaN, r.Scores.Perplexity,
                100 * r.Scores.Captions.ObjectMatch, 100 * r.Scores.Captions.ObjectChance, 100 * r.Scores.Captions.Attributes, 100 * r.Scores.Vqa,
                100 * t.All.ObjectAccuracy, 100 * t.AllChance.ObjectAccuracy, 100 * t.Simple.ObjectAccuracy, 100 * t.SimpleChance.ObjectAccuracy, t.FrechetDistance,
                r.FromCache ? "cached" : r.Seconds,
            };
        }), note: $"Every paradigm: {s.Config.TokenizerSteps} tokenizer steps and {s.Config.LlmSteps} LLM steps from the same text model (held-out perplexity {s.TextPerplexity:0.00}). " +
            "Agreement: mean cosine between the tokenizer's lookup row of each code and the LLM's row of its text id, at the end; table moved: ‖W − W₀‖ / ‖W₀‖ over the LLM's code rows. " +
            "The separate codebook has no shared rows (NaN).", measured: new[] { "train s" });

    /// <summary>The stacked tokenizers' table: PSNR, rFD, codes and LLM positions per image, the latent's width and how the LLM reads a position.</summary>
    public static ResultTable StackedTable(UnifiedCodebookSetup s, IReadOnlyList<StackedCodebookResult> results) =>
        ResultTable.FromRows("Stacked codes over the shared rows: D × aggregation", new[] { "D", "aggregation", "PSNR dB", "rFD", "usage %", "codes / image", "LLM positions / given image", "latent width", "LLM input per position" },
            results.Select(r => (IReadOnlyList<object?>)new object?[]
            {
                r.Depth, r.Depth == 1 ? "—" : r.Aggregation.ToString(), r.Metrics.Psnr, r.Metrics.RFd, 100 * r.Metrics.Usage, r.Metrics.CodesPerImage, r.LlmPositions, r.LatentWidth,
                r.LlmInput(s.Text.Gpt.Config.Dim),
            }), note: $"Each layer quantizes onto the same {s.Config.CodebookSize} rows, language-driven like D = 1. A given image takes one LLM position per code-map position whatever D; " +
            "an image the LLM writes (text → image, decompression) takes all its codes, D per position.");

    /// <summary>The stacked LLMs' table: given-image positions, the codes written, language kept, understanding, generation, and decompression accuracy by layer.</summary>
    public static ResultTable StackedLlmTable(UnifiedCodebookSetup s, IReadOnlyList<(UnifiedCodebookResult Result, (double First, double Later) Decompression)> rows) =>
        ResultTable.FromRows("Stacked codes in the LLM: compressed images in, every code out", new[]
        {
            "run", "D", "decompression", "positions / given image", "codes / drawn image", "text ppl", "caption objects %", "objects chance %", "VQA %",
            "T2I objects %", "T2I chance %", "FD", "decompressed layer-1 codes %", "decompressed later-layer codes %", "train s",
        }, rows.Select(x =>
        {
            var (r, d) = x;
            var t = r.Scores.TextToImage!;
            int depth = r.Model.Config.StackDepth, codes = r.Tokenizer.CodesPerImage;
            return (IReadOnlyList<object?>)new object?[]
            {
                r.Name, depth, r.Decompression ? "on" : "off", codes / depth, codes, r.Scores.Perplexity, 100 * r.Scores.Captions.ObjectMatch, 100 * r.Scores.Captions.ObjectChance,
                100 * r.Scores.Vqa, 100 * t.All.ObjectAccuracy, 100 * t.AllChance.ObjectAccuracy, t.FrechetDistance, 100 * d.First, 100 * d.Later, r.FromCache ? "cached" : r.Seconds,
            };
        }), note: $"Decompressed codes: held-out images given compressed, each code of the asked block predicted from the true codes before it (teacher-forced), right or not; " +
            $"chance {100.0 / s.Config.CodebookSize:0.0} %. At D = 1 the asked block repeats the given codes (a copy); at D = 2 its second-layer codes are not in the input as such.", measured: new[] { "train s" });
}
