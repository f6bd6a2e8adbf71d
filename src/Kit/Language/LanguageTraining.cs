// Training the unified model with the kit's one trainer loop: batches drawn from UnifiedSequences by step
// number (so a resumed run sees the same batches), next-token loss on both modalities, and held-out text
// perplexity — the number the UniCode ablations watch for damage to the language ability.
using Kit.Core;
using Kit.Training;
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>Settings of a language-model training run.</summary>
/// <param name="Steps">Optimiser steps.</param>
/// <param name="BatchSize">Sequences per step.</param>
/// <param name="LearningRate">Peak learning rate (warm-up then cosine).</param>
/// <param name="WeightDecay">AdamW weight decay.</param>
/// <param name="ImageLossWeight">Weight of visual-token targets relative to text targets.</param>
/// <param name="Seed">Batch-order seed.</param>
/// <param name="GivenImageLossWeight">
/// Weight of visual-token targets in image → text and VQA sequences, where the image is given rather than asked for
/// (null: <paramref name="ImageLossWeight"/>).
/// </param>
public sealed record LanguageTrainingConfig(int Steps = 600, int BatchSize = 32, double LearningRate = 1e-3, double WeightDecay = 0.05,
    double ImageLossWeight = 1.0, long Seed = 0,
    double? GivenImageLossWeight = null);

/// <summary>Training loop and perplexity for the unified model.</summary>
public static class LanguageTraining
{
    /// <summary>
    /// Trains <paramref name="model"/> on batches of <paramref name="sequences"/>. <paramref name="features"/> [N, L, F]
    /// are the corpus images' features for continuous visual interfaces (rows are picked per batch).
    /// </summary>
    public static TrainingLog Train(UnifiedModel model, UnifiedSequences sequences, LanguageTrainingConfig c, Tensor? features = null,
        string label = "language model")
    {
        var device = model.parameters().First().device;
        var onDevice = features?.to(device);
        var trainer = new Trainer(model, new TrainerOptions(c.Steps, c.LearningRate, c.WeightDecay, WarmupSteps: Math.Min(100,
            c.Steps / 10),
            LogEvery: Math.Max(1, c.Steps / 100), Label: label));
        return trainer.Run(step => Step(model, sequences, c, step, onDevice));
    }

    /// <summary>
    /// One language-model step's loss on the batch of <paramref name="sequences"/> drawn for <paramref name="step"/> (the same
    /// batch for the same seed and step), with the text and image losses and the padded length as metrics. Shared by every loop
    /// that trains a unified model (UniCode's dual alternating run interleaves it with tokenizer steps).
    /// </summary>
    public static StepResult Step(UnifiedModel model, UnifiedSequences sequences, LanguageTrainingConfig c, int step,
        Tensor? features = null)
    {
        var batch = sequences.Sample(c.BatchSize, KitRandom.For(c.Seed, step), c.ImageLossWeight, c.GivenImageLossWeight);
        var rows = batch.Images.Where(i => i >= 0).ToArray();
        var picked = features is null || rows.Length == 0 ? null : features.index_select(0, tensor(rows, device: features.device));
        var loss = model.Loss(batch, picked);
        var positions = tensor((float)batch.Tokens.shape[1]); // the padded length: what a step computes
        batch.Dispose();
        return new StepResult(loss.Total, new Dictionary<string, Tensor> { ["text"] = loss.Text.detach(), ["image"] = loss.Image.detach(),
            ["positions"] = positions });
    }

    /// <summary>Perplexity exp(mean next-token cross-entropy) of [BOS] line [EOS] over <paramref name="lines"/>.</summary>
    public static double Perplexity(UnifiedModel model, UnifiedVocabulary vocabulary, IReadOnlyList<string> lines, int batchSize = 64)
    {
        if (lines.Count == 0) return double.NaN;
        var sequences = new UnifiedSequences(vocabulary, null, lines, SequenceMix.TextOnly);
        double total = 0, count = 0;
        model.eval();
        using var noGrad = no_grad();
        for (int start = 0; start < lines.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, lines.Count - start);
            Scopes.Run(() =>
            {
                var rows = Enumerable.Range(start, n).Select(i => sequences.Build(SequenceTasks.Text, i, KitRandom.For(0, i))).ToList();
                using var batch = sequences.Pack(rows, Enumerable.Repeat(-1L, n).ToArray(), Enumerable.Repeat(SequenceTasks.Text,
                    n).ToArray());
                // The model's own text loss is the weighted mean over this batch; weight it back by the batch's target count.
                double targets = batch.Weights.sum().item<float>();
                total += model.Loss(batch).Text.item<float>() * targets;
                count += targets;
            });
        }
        return Math.Exp(total / count);
    }
}
