// LexVLA's training loop, shared by the lexical model and the dense baseline: a batch of training scenes, each with one of
// its captions (the phrasing moves with the step, so every scene is seen in all its phrasings), through the run's loss.
// The lexical loss is InfoNCE plus the sparsity term on the image vectors (and on the text vectors when the LM writes them).
using Kit.Core;
using Kit.Data;
using Kit.Training;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>The loop's sizes.</summary>
/// <param name="Steps">Training steps.</param>
/// <param name="BatchSize">Pairs per step (InfoNCE's negatives are the batch).</param>
/// <param name="LearningRate">Peak learning rate (warm-up, cosine).</param>
/// <param name="Seed">Seeds which scenes each step draws.</param>
public sealed record ContrastiveTrainingConfig(int Steps, int BatchSize, double LearningRate, long Seed);

/// <summary>The contrastive loop and LexVLA's loss.</summary>
public static class ContrastiveTraining
{
    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="scenes"/> whose backbone features are <paramref name="features"/> [N, P, F]:
    /// each step draws a batch of scenes and one caption of each and returns <paramref name="loss"/> of (features, captions).
    /// </summary>
    public static TrainingLog Train(nn.Module model, IReadOnlyList<ShapesScene> scenes, Tensor features, ContrastiveTrainingConfig c,
        string label,
        Func<Tensor, IReadOnlyList<string>, StepResult> loss)
    {
        var trainer = new Trainer(model, new TrainerOptions(c.Steps, c.LearningRate, WeightDecay: 0.01, WarmupSteps: Math.Max(1,
            c.Steps / 20),
            LogEvery: Math.Max(1, c.Steps / 50), Label: label));
        return trainer.Run(step =>
        {
            var rng = KitRandom.For(c.Seed * 17 + 6, step);
            var picks = Enumerable.Range(0, c.BatchSize).Select(_ => rng.Next(scenes.Count)).ToArray();
            var x = features.index_select(0, tensor(picks.Select(i => (long)i).ToArray(), device: features.device));
            var captions = picks.Select((i, j) => scenes[i].Caption((i + step + j) % ShapesScene.CaptionTemplates)).ToList();
            return loss(x, captions);
        });
    }

    /// <summary>LexVLA's loss: InfoNCE at <paramref name="temperature"/> plus <paramref name="sparsityWeight"/> × the sparsity
    /// term.</summary>
    public static StepResult LexicalLoss(LexicalDualEncoder m, Tensor images, IReadOnlyList<string> captions, double temperature,
        SparsityKind sparsity,
        double sparsityWeight)
    {
        var v = m.EncodeImages(images);
        var t = m.EncodeTexts(captions);
        var contrastive = InfoNce.Loss(v, t, temperature);
        var penalty = SparsityPenalty.Of(sparsity, v);
        if (m.Target == TextTarget.LanguageModel) penalty = penalty + SparsityPenalty.Of(sparsity, t);
        var active = LexicalVectors.ActiveCount(LexicalVectors.Sparsify(v.detach())).mean();
        return new StepResult(contrastive + sparsityWeight * penalty,
            new Dictionary<string, Tensor> { ["infonce"] = contrastive, ["sparsity"] = penalty, ["active"] = active });
    }

    /// <summary>The dense baseline's loss: InfoNCE alone.</summary>
    public static StepResult DenseLoss(DenseDualEncoder m, Tensor images, IReadOnlyList<string> captions, double temperature)
    {
        var loss = InfoNce.Loss(m.EncodeImages(images), m.EncodeTexts(captions), temperature);
        return new StepResult(loss, new Dictionary<string, Tensor> { ["infonce"] = loss });
    }
}
