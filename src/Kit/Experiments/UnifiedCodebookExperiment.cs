// Notebook 05 as functions: each paradigm of Language/UnifiedCodebook trained on the same budget of tokenizer steps T
// and language-model steps U, then judged by notebook 07's unified evaluation. Stage 1 trains the tokenizer (cached),
// stage 2 the LLM from the text model on notebook 07's sequences plus in-context decompression (on or off); the dual
// paradigm interleaves both in one loop. Stacked codes (D = 2) over the same rows are the last part.
using Kit.Core;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Language;
using Kit.Language.UnifiedCodebook;
using Kit.Notebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>One paradigm trained and judged.</summary>
public sealed record UnifiedCodebookResult(string Name, ICodebookParadigm Paradigm, bool Decompression, ImageTokenizer Tokenizer,
    TokenizerMetrics TokenizerMetrics, UnifiedModel Model, UnifiedVocabulary Vocabulary, UnifiedScores Scores,
    IReadOnlyList<DriftPoint> Drift, double Seconds, bool FromCache)
{
    /// <summary>The pipeline of this paradigm's model, vocabulary and tokenizer.</summary>
    public UnifiedPipeline Pipeline => new(Model, Vocabulary, Tokenizer);
}

/// <summary>A stacked tokenizer over the shared rows: D codes per position, aggregated by concatenation or cumulative sum.</summary>
/// <param name="LlmPositions">Positions a given image takes in the LLM: one per code-map position, whatever D.</param>
/// <param name="LatentWidth">Width of the tokenizer's latent per position (concatenation: D·d; cumulative sum: d).</param>
public sealed record StackedCodebookResult(int Depth, StackAggregation Aggregation, ImageTokenizer Tokenizer, TokenizerMetrics Metrics,
    int LlmPositions, int LatentWidth, bool FromCache)
{
    /// <summary>How the LLM reads a position's D codes: one embedding, or the sum of D, or D joined and mapped back to d.</summary>
    public string LlmInput(int d) => Depth == 1 ? $"its code's row ({d})" : Aggregation == StackAggregation.CumulativeSum
        ? $"sum of {Depth} rows ({d})" : $"{Depth} rows joined ({Depth * d}) → learned {Depth * d}→{d} map";
}

/// <summary>The steps of notebook 05.</summary>
public static partial class UnifiedCodebookExperiment
{
    // What a stored tokenizer or dual run means: bump when the paradigms' training changes.
    const int Version = 1;

    static ImageTokenizer NewTokenizer(UnifiedCodebookSetup s, ICodebookParadigm paradigm, Device device)
    {
        var language = s.LanguageRows;
        var quantizer = paradigm.Quantizer(s.Config.Tokenizer.LatentDim, () => language, s.Config.SeparateQuantizer);
        return new ImageTokenizer(s.Config.Tokenizer, quantizer, s.Config.TokenizerTraining.Resolution).to(device);
    }

    /// <summary>
    /// Stage 1 of a paradigm that trains its tokenizer first: T steps (cached), the paradigm's hooks around each, the drift
    /// recorded against the text-pretrained rows when the codes are words.
    /// </summary>
    public static (ImageTokenizer Tokenizer, IReadOnlyList<DriftPoint> Drift, CachedArtifact<ImageTokenizer> Artifact) TrainTokenizer(
        UnifiedCodebookSetup s, ICodebookParadigm paradigm, Device? device = null)
    {
        device ??= Devices.Default;
        if (paradigm.TrainsJointly)
            throw new ArgumentException($"the {paradigm.Name} paradigm trains its tokenizer inside TrainDual.", nameof(paradigm));
        var c = s.Config;
        // The drift is taken over the whole run of T + U steps; stage 1 records the first T of them.
        var points = paradigm.SharesRows
            ? CodebookDrift.Steps(c.TokenizerSteps + c.LlmSteps, c.DriftPoints).Where(p => p <= c.TokenizerSteps).ToArray()
            : Array.Empty<int>();
        var key = new
        {
            Paradigm = paradigm.Kind.ToString(), c.Tokenizer, c.TokenizerTraining, c.RampShare,
            Quantizer = paradigm.SharesRows ? null : c.SeparateQuantizer, s.DataKey,
        };
        var artifact = ArtifactCache.Get("codebook-tokenizer", key, Version, () => NewTokenizer(s, paradigm, device), m =>
        {
            var hooks = paradigm.Hooks(m, c.RampSteps);
            var drift = new DriftRecorder(points, s.LanguageRows);
            TokenizerTraining.Train(m, c.TokenizerTraining, s.Probe, device, step =>
            {
                hooks.BeforeStep?.Invoke(step);
                drift.Observe(step, () => m.Quantizer.Codebook!.Codes(), () => s.LanguageRows);
            }, hooks.AdversarialScale);
            hooks.Finish?.Invoke();
            return drift.ToRecords();
        });
        return (artifact.Model, DriftRecorder.Read(artifact.Records), artifact);
    }

    /// <summary>
    /// The dual paradigm (cached): <see cref="DualAlternatingTraining"/> over P cycles from the text model, the sequences
    /// re-encoded at each LLM phase, the drift recorded over the whole run.
    /// </summary>
    public static (TokenizerAndLlm Run, IReadOnlyList<DriftPoint> Drift, CachedArtifact<TokenizerAndLlm> Artifact) TrainDual(
        UnifiedCodebookSetup s, bool decompression, Device? device = null)
    {
        device ??= Devices.Default;
        var c = s.Config;
        var paradigm = CodebookParadigm.DualAlternating;
        var schedule = new DualSchedule(c.DualPhases, c.TokenizerSteps, c.LlmSteps);
        var mix = MixOf(c, decompression);
        var config = UnifiedModelConfig.For(s.Shared, s.GptOf(paradigm), imagePositions: 64);
        var key = new { c.Tokenizer, c.TokenizerTraining, c.Unified, c.DualPhases, Mix = mix.Key, Model = config, s.DataKey };
        var ids = tensor(s.Rows.Ids.Select(i => (long)i).ToArray(), device: device);
        var artifact = ArtifactCache.Get("codebook-dual", key, Version,
            () => new TokenizerAndLlm(NewTokenizer(s, paradigm, device), new UnifiedModel(config).to(device)).to(device), m =>
            {
                using (var start = s.StartOf(paradigm, device)) m.Llm.Gpt.load_state_dict(start.Gpt.state_dict());
                var drift = new DriftRecorder(CodebookDrift.Steps(schedule.Total, c.DriftPoints), s.LanguageRows);
                UnifiedSequences SequencesOf(ImageTokenizer tokenizer) => new(s.Shared, s.Encode(tokenizer, device), s.Corpus.Train, mix);
                DualAlternatingTraining.Train(m, schedule, ids, c.TokenizerTraining, c.Unified, SequencesOf, drift,
                    "unified codebook: dual alternating");
                return drift.ToRecords();
            });
        return (artifact.Model, DriftRecorder.Read(artifact.Records), artifact);
    }

    /// <summary>The sequence mix: notebook 07's four tasks, plus decompression when asked.</summary>
    public static SequenceMix MixOf(UnifiedCodebookConfig config, bool decompression) =>
        decompression ? SequenceMix.Standard().With(DecompressionTask.Instance, config.DecompressionWeight) : SequenceMix.Standard();

    /// <summary>
    /// One paradigm: stage 1 (tokenizer), stage 2 (the LLM from the text model for U steps on the mix, the tokenizer frozen;
    /// the table frozen when the paradigm says so), or the dual paradigm's interleaved run; then both judged.
    /// </summary>
    public static UnifiedCodebookResult Train(UnifiedCodebookSetup s, ICodebookParadigm paradigm, bool decompression = true,
        Device? device = null)
    {
        device ??= Devices.Default;
        var c = s.Config;
        var vocabulary = s.VocabularyOf(paradigm);
        ImageTokenizer tokenizer; UnifiedModel model; IReadOnlyList<DriftPoint> drift; double seconds; bool cached;
        if (paradigm.TrainsJointly)
        {
            var dual = TrainDual(s, decompression, device);
            (tokenizer, model, drift) = (dual.Run.Tokenizer, dual.Run.Llm, dual.Drift);
            (seconds, cached) = (dual.Artifact.Seconds, dual.Artifact.FromCache);
        }
        else
        {
            var stage1 = TrainTokenizer(s, paradigm, device);
            tokenizer = stage1.Tokenizer;
            var sequences = new UnifiedSequences(vocabulary, s.Encode(tokenizer, device), s.Corpus.Train, MixOf(c, decompression));
            var config = UnifiedModelConfig.For(vocabulary, s.GptOf(paradigm), imagePositions: tokenizer.CodesPerImage);
            var stage = $"unified codebook: {paradigm.Kind}" + (paradigm.FreezesTable ? ", word embeddings frozen" : "");
            var data = new { s.DataKey, Tokenizer = tokenizer.Config, paradigm = paradigm.Kind, c.TokenizerTraining, c.RampShare };
            Action<UnifiedModel>? freeze = paradigm.FreezesTable ? m => m.Gpt.TokenEmbeddings.requires_grad_(false) : null;
            // The start weights are copied into the trained model (or not needed when it loads); the start itself is freed.
            using var start = s.StartOf(paradigm, device);
            var trained = UnifiedTraining.Train(stage, config, sequences, c.Unified, data, start, "text",
                device: device, prepare: freeze);
            model = trained.Model;
            seconds = (stage1.Artifact.FromCache ? double.NaN : stage1.Artifact.Seconds) + trained.Seconds;
            cached = stage1.Artifact.FromCache && trained.FromCache;
            var points = stage1.Drift.ToList();
            if (paradigm.FreezesTable && points.Count > 0)
            {
                // Stage 2 never moves the frozen table: the drift after it, measured, closes the line.
                var rows = model.Gpt.TokenEmbeddings.index_select(0, tensor(s.Rows.Ids.Select(i => (long)i).ToArray(), device: device));
                var (agreement, movement) = CodebookDrift.Measure(tokenizer.Quantizer.Codebook!.Codes(), rows, s.LanguageRows);
                points.Add(new DriftPoint(c.TokenizerSteps + c.LlmSteps, agreement, movement));
            }
            drift = points;
        }
        var metrics = TokenizerTraining.Evaluate(tokenizer, c.TokenizerTraining, s.Probe, device);
        var scores = UnifiedEvaluation.Evaluate(new UnifiedPipeline(model, vocabulary, tokenizer), s.Probe, s.TestSet, c.Llm.Evaluation);
        return new UnifiedCodebookResult(paradigm.Name + (decompression ? "" : ", no decompression"), paradigm, decompression, tokenizer,
            metrics, model, vocabulary, scores, drift, seconds, cached);
    }

    /// <summary>
    /// A stacked tokenizer of depth <paramref name="depth"/> over the shared rows, trained language-driven like D = 1 (cached):
    /// concatenation gives each layer a d_model-wide slice of a D·d_model latent (the LLM reads the aggregate through a learned
    /// D·d → d map); cumulative sum codes the residual with one shared codebook (the aggregate is d wide).
    /// </summary>
    public static StackedCodebookResult Stacked(UnifiedCodebookSetup s, int depth, StackAggregation aggregation, Device? device = null)
    {
        device ??= Devices.Default;
        if (depth < 1 || depth > 4)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "expected D in 1 … 4 code layers per position");
        var c = s.Config;
        int d = c.Tokenizer.LatentDim;
        bool concat = aggregation == StackAggregation.Concat;
        var tokenizerConfig = c.Tokenizer with { LatentDim = concat ? d * depth : d };
        var language = s.LanguageRows;
        var paradigm = CodebookParadigm.LanguageDriven;
        var key = new
        {
            depth, aggregation = aggregation.ToString(), Tokenizer = tokenizerConfig, c.TokenizerTraining, c.RampShare, s.DataKey,
        };
        // Each layer quantizes onto the rows the language-driven paradigm's way.
        ResidualQuantizer Layers() => new(tokenizerConfig.LatentDim, depth, aggregation,
            width => paradigm.Quantizer(width, () => language, c.SeparateQuantizer), sharedCodebook: !concat);
        var artifact = ArtifactCache.Get("codebook-stacked", key, Version,
            () => new ImageTokenizer(tokenizerConfig, Layers(), c.TokenizerTraining.Resolution).to(device),
            m =>
            {
                var hooks = paradigm.Hooks(m, c.RampSteps);
                TokenizerTraining.Train(m, c.TokenizerTraining, s.Probe, device, hooks.BeforeStep, hooks.AdversarialScale);
                hooks.Finish?.Invoke();
                return null;
            });
        var model = artifact.Model;
        var metrics = TokenizerTraining.Evaluate(model, c.TokenizerTraining, s.Probe, device) with { TrainSeconds = artifact.Seconds };
        return new StackedCodebookResult(depth, aggregation, model, metrics, LlmPositions: (int)metrics.PositionsPerImage,
            LatentWidth: concat ? d * depth : d, artifact.FromCache);
    }

    /// <summary>
    /// The language-driven paradigm's stage 2 over a stacked tokenizer (D ≥ 2): the LLM reads a given image compressed (one
    /// aggregated input per position: the rows' sum, or their concatenation through a learned D·d → d map) and writes an
    /// asked-for image (text → image, decompression's second block) as all ĥŵD codes; its word-embedding table stays frozen
    /// like D = 1's, the map (concatenation) is trained. Same U steps and mix as the paradigms.
    /// </summary>
    public static UnifiedCodebookResult TrainStacked(UnifiedCodebookSetup s, StackedCodebookResult stacked, bool decompression = true,
        Device? device = null)
    {
        device ??= Devices.Default;
        if (stacked.Depth < 2)
            throw new ArgumentOutOfRangeException(nameof(stacked), stacked.Depth,
                "expected a stacked tokenizer (D ≥ 2); D = 1 is the language-driven paradigm of Train");
        var c = s.Config;
        var paradigm = CodebookParadigm.LanguageDriven;
        var tokenizer = stacked.Tokenizer;
        int codes = tokenizer.CodesPerImage, positions = codes / stacked.Depth;
        var corpus = s.Encode(tokenizer, device) with { Depth = stacked.Depth };
        var sequences = new UnifiedSequences(s.Shared, corpus, s.Corpus.Train, MixOf(c, decompression));
        // A decompression row: [BOS] [IMG] ĥŵ compressed [/IMG] [IMG] ĥŵD codes [/IMG] [EOS].
        var gpt = s.GptOf(paradigm) with { ContextLength = Math.Max(c.ContextLength, 1 + (positions + 2) + (codes + 2) + 1) };
        var stack = new CodeStack(stacked.Depth, stacked.Aggregation);
        var config = UnifiedModelConfig.For(s.Shared, gpt, imagePositions: codes) with { Stack = stack };
        string aggregation = stacked.Aggregation == StackAggregation.Concat ? "concatenation" : "cumulative sum";
        string name = $"{paradigm.Name}, D={stacked.Depth} {aggregation}" + (decompression ? "" : ", no decompression");
        var stage = $"unified codebook: {paradigm.Kind}, D={stacked.Depth} {stacked.Aggregation}, word embeddings frozen";
        var data = new
        {
            s.DataKey, Tokenizer = tokenizer.Config, stacked.Depth, Aggregation = stacked.Aggregation.ToString(), c.TokenizerTraining,
            c.RampShare,
        };
        using var start = s.StartOf(paradigm, device);
        var trained = UnifiedTraining.Train(stage, config, sequences, c.Unified, data, start, "text", device: device,
            prepare: m => m.Gpt.TokenEmbeddings.requires_grad_(false));
        var pipeline = new UnifiedPipeline(trained.Model, s.Shared, tokenizer);
        var scores = UnifiedEvaluation.Evaluate(pipeline, s.Probe, s.TestSet, c.Llm.Evaluation);
        // Its seconds are the LLM's alone: the stacked tokenizer's training is in the stacked tokenizers' table.
        return new UnifiedCodebookResult(name, paradigm, decompression, tokenizer, stacked.Metrics, trained.Model, s.Shared, scores,
            Array.Empty<DriftPoint>(), trained.Seconds, trained.FromCache);
    }

    /// <summary>How well <paramref name="result"/>'s LLM decompresses held-out images (Evaluation.Unified.DecompressionAccuracy).</summary>
    public static DecompressionScore DecompressionAccuracy(UnifiedCodebookSetup s, UnifiedCodebookResult result, Device? device = null)
    {
        device ??= Devices.Default;
        var codes = result.Tokenizer.EncodeAll(s.TestSet.Test.Images, device);
        var images = new VisualCorpus(s.TestSet.Test.Scenes!, codes);
        return Evaluation.Unified.DecompressionAccuracy.Measure(result.Model, result.Vocabulary, images, s.Corpus.Train);
    }
}
