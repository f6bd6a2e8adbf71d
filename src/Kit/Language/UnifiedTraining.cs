// Training a unified model as one cached step: text pretraining, then unified training on the mix's sequences, each
// trained once and loaded afterwards. The key is everything that decides what is trained — the model and training
// configs, the mix, and what the caller says its sequences were built from (the tokenizer's key, the corpus, the
// images) — and the version below, which says what the stored weights mean.
using Kit.Core;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>A trained (or loaded) unified model and its training record.</summary>
/// <param name="Log">The training log (empty when loaded from the cache).</param>
/// <param name="Seconds">Training time (NaN when loaded).</param>
/// <param name="TokensPerSecond">Training throughput in sequence positions per second (NaN when loaded).</param>
/// <param name="FromCache">True when the weights were loaded.</param>
public sealed record UnifiedTrainingResult(UnifiedModel Model, TrainingLog Log, double Seconds, double TokensPerSecond, bool FromCache);

/// <summary>Cached training of unified models.</summary>
public static class UnifiedTraining
{
    // What a stored unified model means: bump when the sequences' layout or the loss change, so that a model trained on
    // other ids or under another loss is never loaded.
    const int Version = 1;

    sealed record Key(string Stage, UnifiedModelConfig Model, LanguageTrainingConfig Training, string Mix, object Data, string? From);

    /// <summary>
    /// A model of <paramref name="config"/> trained on <paramref name="sequences"/> (cached). <paramref name="data"/> names what the
    /// sequences were built from (tokenizer key, corpus config, image counts: anything serialisable); <paramref name="start"/>
    /// gives initial GPT weights (text pretraining) and <paramref name="startName"/> names them in the key;
    /// <paramref name="features"/> [N, L, F] are the corpus images' features for continuous interfaces; <paramref name="prepare"/>
    /// runs after the start weights are loaded and before training (freezing the word embeddings, say: name it in
    /// <paramref name="stage"/>).
    /// </summary>
    public static UnifiedTrainingResult Train(string stage, UnifiedModelConfig config, UnifiedSequences sequences,
        LanguageTrainingConfig training, object data,
        UnifiedModel? start = null, string? startName = null, Tensor? features = null, Device? device = null,
            Action<UnifiedModel>? prepare = null)
    {
        device ??= Devices.Default;
        var log = new TrainingLog();
        var artifact = ArtifactCache.Get("unified-lm", new Key(stage, config, training, sequences.Mix.Key, data, startName), Version,
            () => new UnifiedModel(config).to(device),
            m =>
            {
                if (start is not null) m.Gpt.load_state_dict(start.Gpt.state_dict());
                prepare?.Invoke(m);
                log = LanguageTraining.Train(m, sequences, training, features, label: stage);
                return null;
            });
        double positions = log.Rows.Count > 0 ? log.Metric("positions").DefaultIfEmpty(double.NaN).Average() : double.NaN;
        double seconds = artifact.Seconds;
        return new UnifiedTrainingResult(artifact.Model, log, seconds,
            artifact.FromCache ? double.NaN : training.Steps * training.BatchSize * positions / seconds,
            artifact.FromCache);
    }

    /// <summary>The GPT trained on <paramref name="textLines"/> alone (a unified model without images; cached).</summary>
    public static UnifiedTrainingResult PretrainText(UnifiedVocabulary vocabulary, GptConfig gpt, IReadOnlyList<string> textLines,
        LanguageTrainingConfig training,
        object data, Device? device = null) =>
        Train("text", UnifiedModelConfig.For(vocabulary, gpt), new UnifiedSequences(vocabulary, null, textLines, SequenceMix.TextOnly),
            training, data, device: device);
}
