// How LaVIT's tokenizer is trained, after the reference authors' answers in their issues (the training code was never
// released): phase 1 trains selector, merger and decoder without the quantizer (the l2-normalised lookups go straight
// to the decoder); phase 2 turns the cosine EMA quantizer on — k-means on its first batch of kept tokens, dead codes
// restarted — and trains end to end, the selector frozen when asked. Both phases read the frozen backbone's features,
// computed once.
using Kit.Backbones;
using Kit.Core;
using Kit.Data;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tokenizers.Dynamic;

/// <summary>The dynamic tokenizer's two-phase training; with its config and the backbone's key, the cache key.</summary>
/// <param name="FeatureSteps">Phase 1: steps without the quantizer.</param>
/// <param name="QuantizedSteps">Phase 2: steps with it.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="LearningRate">Peak learning rate of each phase (warm-up, then cosine).</param>
/// <param name="TrainImages">Shapes training images.</param>
/// <param name="FreezeSelectorInPhase2">Keep the selector as phase 1 left it (one of the authors' two answers).</param>
/// <param name="Seed">Data seed.</param>
/// <param name="SelectorLearningRate">The selector's peak learning rate as a multiple of the rest's (the kit's addition; 1 =
/// one rate for all, as released): its gradient, through the hard mask, is small beside the ratio term's.</param>
public sealed record DynamicTrainingConfig(int FeatureSteps = 600, int QuantizedSteps = 600, int BatchSize = 64, double LearningRate = 1e-3,
    int TrainImages = 8192, bool FreezeSelectorInPhase2 = false, long Seed = 0, double SelectorLearningRate = 1)
{
    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public DynamicTrainingConfig Validate()
    {
        if (FeatureSteps < 1
            || QuantizedSteps < 1) throw new ArgumentException($"FeatureSteps={FeatureSteps}, QuantizedSteps={QuantizedSteps}: " +
                $"expected at least one step in each phase.", nameof(FeatureSteps));
        if (BatchSize < 1) throw new ArgumentException($"BatchSize={BatchSize}: expected at least 1.", nameof(BatchSize));
        if (TrainImages < BatchSize) throw new ArgumentException($"TrainImages={TrainImages}: expected at least one batch ({BatchSize}).",
            nameof(TrainImages));
        if (!(LearningRate > 0)) throw new ArgumentException($"LearningRate={LearningRate}: expected > 0.", nameof(LearningRate));
        if (!(SelectorLearningRate > 0)) throw new ArgumentException($"SelectorLearningRate={SelectorLearningRate}: expected a " +
            $"multiple > 0.", nameof(SelectorLearningRate));
        return this;
    }
}

/// <summary>A trained (or loaded) dynamic tokenizer.</summary>
/// <param name="Key">Its cache key (what a model trained on its codes names as its data).</param>
/// <param name="Log">Both phases' training log (empty when loaded).</param>
/// <param name="Seconds">Training time (NaN when loaded).</param>
/// <param name="ImagesPerSecond">Training throughput (NaN when loaded).</param>
public sealed record DynamicTokenizerRun(DynamicTokenizer Tokenizer, object Key, TrainingLog Log, double Seconds, double ImagesPerSecond)
{
    /// <summary>True when the weights came from the cache.</summary>
    public bool FromCache => double.IsNaN(Seconds);
}

/// <summary>Two-phase training of <see cref="DynamicTokenizer"/>, cached.</summary>
public static class DynamicTokenizerTraining
{
    /// <summary>
    /// The tokenizer of <paramref name="config"/> over <paramref name="backbone"/> (its cache key <paramref name="backboneKey"/>),
    /// trained once on <paramref name="features"/> [M, N, C] (the backbone's features of the training images), then loaded.
    /// </summary>
    public static DynamicTokenizerRun Run(IPatchBackbone backbone, object backboneKey, DynamicTokenizerConfig config,
        DynamicTrainingConfig training,
        Tensor features, nn.Module<Tensor, Tensor>? pixels = null, Device? device = null)
    {
        device ??= Devices.Default;
        training.Validate();
        config.Validate(backbone.GridHeight);
        var key = new { Backbone = backboneKey, config, training };
        var log = new TrainingLog();
        var artifact = ArtifactCache.Get("dynamic-tokenizer", key, 2, () => new DynamicTokenizer(backbone, config, pixels).to(device), m =>
        {
            log = Train(m, training, features, device);
            return null;
        });
        var (model, seconds) = (artifact.Model, artifact.Seconds);
        model.Quantizing = true;
        foreach (var p in model.parameters()) p.requires_grad = false;
        double perSecond = double.IsNaN(seconds) ? double.NaN : (double)(training.FeatureSteps
            + training.QuantizedSteps) * training.BatchSize / seconds;
        return new DynamicTokenizerRun(model, key, log, seconds, perSecond);
    }

    /// <summary>Both phases on <paramref name="features"/> [M, N, C]; returns their joined log (phase 2's steps follow phase
    /// 1's).</summary>
    public static TrainingLog Train(DynamicTokenizer model, DynamicTrainingConfig training, Tensor features, Device device)
    {
        long m = features.shape[0];
        StepResult Step(int phase, int step)
        {
            var rng = KitRandom.For(training.Seed * 31 + phase, step);
            var index = tensor(Enumerable.Range(0, training.BatchSize).Select(_ => (long)rng.Next((int)m)).ToArray(),
                device: features.device);
            var x = features.index_select(0, index).to(device);
            var output = model.Forward(x);
            var (loss, parts) = model.Loss(output, x);
            return new StepResult(loss, parts);
        }

        TrainerOptions Options(int steps, string label) => new(steps, training.LearningRate, WarmupSteps: Math.Max(1, steps / 20),
            LogEvery: Math.Max(1, steps / 50), Label: label);

        var selector = model.Selector.parameters().Select(p => p.Handle).ToHashSet(); // the same native tensors, whatever wrapper
        var rest = model.parameters().Where(p => !selector.Contains(p.Handle)).ToList();
        var selectorGroup = new ParameterGroup("selector", model.Selector.parameters().ToList(),
            training.LearningRate * training.SelectorLearningRate);
        var restGroup = new ParameterGroup("merger, lookup, decoder", rest);

        model.Quantizing = false;
        var first = new Trainer(model, Options(training.FeatureSteps, "dynamic tokenizer, phase 1 (no VQ)"), new[] { selectorGroup,
            restGroup }).Run(s => Step(1, s));

        model.Quantizing = true;
        var groups = training.FreezeSelectorInPhase2 ? new[] { restGroup } : new[] { selectorGroup, restGroup };
        var second = new Trainer(model, Options(training.QuantizedSteps, "dynamic tokenizer, phase 2 (VQ)"), groups).Run(s => Step(2, s));

        var joined = new TrainingLog();
        joined.Rows.AddRange(first.Rows);
        double offset = first.Rows.Count > 0 ? first.Rows[^1].Seconds : 0;
        joined.Rows.AddRange(second.Rows.Select(r => r with { Step = r.Step + training.FeatureSteps, Seconds = r.Seconds + offset }));
        return joined;
    }

    /// <summary>The Shapes training scenes the tokenizers learn from, <paramref name="count"/> of them drawn with
    /// <paramref name="seed"/>.</summary>
    public static ImageBatch TrainingScenes(int count, long seed, int resolution) =>
        new ShapesDataset(count, Split.Train, new ShapesOptions(Resolution: resolution, Seed: seed + 51)).Batch(0, count);

    /// <summary>The backbone's features of the first <paramref name="count"/> training scenes, [count, N, C].</summary>
    public static Tensor TrainingFeatures(IPatchBackbone backbone, int count, long seed, Device device)
    {
        using var data = TrainingScenes(count, seed, backbone.ImageSize);
        return backbone.FeaturesOf(data.Images, device);
    }
}
