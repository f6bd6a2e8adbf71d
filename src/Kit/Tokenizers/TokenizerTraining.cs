// Training and judging an image tokenizer on Shapes: reconstruction loss (L1 or L2) + the quantizer's
// auxiliary loss, optionally VQGAN's perceptual loss (on the frozen probe's features) and a patch
// discriminator (hinge loss) from a start step; then PSNR, SSIM, codebook usage, perplexity, rFD, bits.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Quantizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Tokenizers;

/// <summary>Data and optimisation of a tokenizer run; part of the cache key.</summary>
/// <param name="L1">L1 reconstruction loss instead of L2 (MSE, the default). On Shapes — small objects on a mostly black
/// background — L1's per-pixel optimum is the background, a plateau (the mean image) that MSE leaves.</param>
/// <param name="GradientClip">Maximum global gradient norm (0 = none).</param>
/// <param name="Data">The images trained and judged on: Shapes (Resolution, Background apply) or Fashion-MNIST (28×28 grey
/// centred in 32×32, repeated as RGB; needs the dataset installed).</param>
/// <param name="EntropyAnnealSteps">LFQ only: the entropy weight decays linearly from the quantizer's value to
/// <paramref name="EntropyFinalFraction"/> of it over this many steps (0 = constant; MAGVIT-v2 anneals it for large vocabularies).</param>
public sealed record TokenizerTrainingConfig(int Steps = 600, int BatchSize = 64, double LearningRate = 2e-3, bool L1 = false,
    double PerceptualWeight = 0, double AdversarialWeight = 0, int DiscriminatorStart = 0, int Resolution = 32, int TrainImages = 8192,
    int EvalImages = 512, ShapesBackground Background = ShapesBackground.Plain, long Seed = 0, int EntropyAnnealSteps = 0,
        double EntropyFinalFraction = 0.1,
    double GradientClip = 1.0, TokenizerData Data = TokenizerData.Shapes)
{
    /// <summary>The factor on the LFQ entropy weight at <paramref name="step"/>: 1 → EntropyFinalFraction over
    /// EntropyAnnealSteps.</summary>
    public double EntropyFactor(int step) => EntropyAnnealSteps <= 0 ? 1 : 1 - (1 - EntropyFinalFraction) * Math.Min(1.0,
        step / (double)EntropyAnnealSteps);
}

/// <summary>What a tokenizer is trained on.</summary>
public enum TokenizerData { Shapes, FashionMnist }

/// <summary>How good a trained tokenizer is, measured on held-out images of its data.</summary>
public sealed record TokenizerMetrics(double Psnr, double Ssim, double Usage, double Perplexity, double DeadShare, double RFd,
    double BitsPerImage, long CodesPerImage, long PositionsPerImage, double TrainSeconds, double ImagesPerSecond);

/// <summary>A trained tokenizer, its training log and metrics.</summary>
public sealed record TokenizerRun(ImageTokenizer Tokenizer, TrainingLog Log, TokenizerMetrics Metrics, bool FromCache,
    TokenizerTraining.RunKey Key);

/// <summary>A small PatchGAN discriminator (VQGAN): a logit per image patch.</summary>
public sealed class PatchDiscriminator : nn.Module<Tensor, Tensor>
{
    readonly TorchSharp.Modules.Sequential body;
    public PatchDiscriminator(int channels = 3, int width = 32) : base(nameof(PatchDiscriminator))
    {
        body = nn.Sequential(
            ("conv1", nn.Conv2d(channels, width, 4, stride: 2, padding: 1)), ("act1", nn.LeakyReLU(0.2)),
            ("conv2", nn.Conv2d(width, 2 * width, 4, stride: 2, padding: 1)), ("norm2", Layers.GroupNorm(8, 2 * width)), ("act2",
                nn.LeakyReLU(0.2)),
            ("conv3", nn.Conv2d(2 * width, 1, 3, padding: 1)));
        RegisterComponents();
    }
    public override Tensor forward(Tensor x) => body.forward(x);
}

/// <summary>Trains (or loads from the artifact cache) and evaluates tokenizers.</summary>
public static class TokenizerTraining
{
    /// <summary>The cache key of a run.</summary>
    public sealed record RunKey(TokenizerConfig Tokenizer, QuantizerSpec Quantizer, TokenizerTrainingConfig Training, int[] Multipliers);

    /// <summary>
    /// A tokenizer trained with <paramref name="training"/>; loaded when the same (tokenizer, quantizer, training)
    /// was trained before. <paramref name="probe"/> supplies rFD (and the perceptual loss when its weight is set).
    /// </summary>
    public static TokenizerRun Run(TokenizerConfig tokenizer, QuantizerSpec quantizer, TokenizerTrainingConfig training,
        IImageFeatures probe, Device? device = null)
    {
        device ??= Devices.Default;
        if (quantizer.RequiredDim is int d && d != tokenizer.LatentDim) tokenizer = tokenizer with { LatentDim = d };
        var key = new RunKey(tokenizer, quantizer, training, tokenizer.Multipliers);
        TrainingLog log = new();
        // Version: bump when the tokenizer's networks, its losses or how its codebook learns change.
        var artifact = ArtifactCache.Get("tokenizer", key, version: 1,
            () => new ImageTokenizer(tokenizer, quantizer.Build(tokenizer.LatentDim), training.Resolution).to(device),
            m => { log = Train(m, training, probe, device); return null; });
        double seconds = artifact.FromCache ? 0 : artifact.Seconds;
        var metrics = Evaluate(artifact.Model, training, probe, device) with
        {
            TrainSeconds = seconds,
            ImagesPerSecond = seconds > 0 ? training.Steps * (double)training.BatchSize / seconds : double.NaN,
        };
        return new TokenizerRun(artifact.Model, log, metrics, artifact.FromCache, key);
    }

    /// <summary>Held-out images for evaluation (validation split), [N, 3, R, R].</summary>
    public static ImageBatch EvalImages(TokenizerTrainingConfig t) => Images(t, Split.Validation, t.EvalImages);

    /// <summary>The first <paramref name="count"/> images of <paramref name="split"/> of the run's data, [N, 3, R, R] in [−1, 1].</summary>
    public static ImageBatch Images(TokenizerTrainingConfig t, Split split, int count)
    {
        if (t.Data == TokenizerData.Shapes)
            return new ShapesDataset(count, split, new ShapesOptions(Resolution: t.Resolution, Background: t.Background,
                Seed: t.Seed)).Batch(0, count);
        if (t.Resolution != 32) throw new ArgumentException($"Resolution={t.Resolution}: Fashion-MNIST images are 32×32 (28×28 centred).",
            nameof(t));
        var fashion = FashionMnist.Load(split, limit: count);
        return fashion.Batch(Enumerable.Range(0, fashion.Count), channels: 3);
    }

    /// <summary>
    /// Trains <paramref name="model"/> (any quantizer, e.g. one over a language model's rows) by <paramref name="t"/>, uncached;
    /// <paramref name="beforeStep"/> runs before each step (UniCode's pull ratio, drift records); <paramref name="adversarialScale"/>
    /// multiplies the adversarial weight at each step (UniCode's 1 − 0.9 r), 1 when null.
    /// </summary>
    public static TrainingLog Train(ImageTokenizer model, TokenizerTrainingConfig t, IImageFeatures probe, Device device,
        Action<int>? beforeStep = null,
        Func<int, double>? adversarialScale = null)
    {
        using var data = Images(t, Split.Train, t.TrainImages);
        var images = data.Images.to(device);
        PatchDiscriminator? discriminator = t.AdversarialWeight > 0 ? new PatchDiscriminator(model.Config.ImageChannels).to(device) : null;
        // With a discriminator, two groups: the tokenizer steps on its loss, then the discriminator on its hinge loss
        // (from DiscriminatorStart on), each with its own AdamW.
        var groups = new List<ParameterGroup> { new("tokenizer", model.parameters().ToList()) };
        if (discriminator is not null) groups.Add(new ParameterGroup("discriminator", discriminator.parameters().ToList(), Beta1: 0.5));
        var tokenizerOnly = new[] { "tokenizer" };
        var both = groups.Select(g => g.Name).ToArray();
        var trainer = new Trainer(model, new TrainerOptions(t.Steps, t.LearningRate, WarmupSteps: Math.Min(100, t.Steps / 10),
            LogEvery: Math.Max(1, t.Steps / 100), GradientClip: t.GradientClip,
            Label: $"tokenizer {model.Quantizer.GetType().Name}"), groups, step => discriminator is not null
                && step >= t.DiscriminatorStart ? both : tokenizerOnly);
        var log = trainer.Run(step =>
        {
            beforeStep?.Invoke(step);
            var (loss, metrics, x, output) = ReconstructionStep(model, images, t, step);
            if (t.PerceptualWeight > 0)
            {
                var perceptual = F.mse_loss(probe.PatchFeatures(output.Reconstruction), probe.PatchFeatures(x).detach());
                loss = loss + perceptual * t.PerceptualWeight;
                metrics["perceptual"] = perceptual.detach();
            }
            if (discriminator is null || step < t.DiscriminatorStart) return new StepResult(loss, metrics);
            // Hinge loss: the discriminator learns real > 1, fake < −1; the generator raises D(fake).
            var adversarial = -discriminator.call(output.Reconstruction).mean();
            var dLoss = F.relu(1 - discriminator.call(x)).mean() + F.relu(1 + discriminator.call(output.Reconstruction.detach())).mean();
            metrics["discriminator"] = dLoss.detach();
            return new StepResult(loss + adversarial * (t.AdversarialWeight * (adversarialScale?.Invoke(step) ?? 1)), metrics,
                new Dictionary<string, Tensor> { ["discriminator"] = dLoss });
        });
        model.Quantizer.RegularizerScale = 1;
        discriminator?.Dispose();
        return log;
    }

    /// <summary>
    /// One step's reconstruction loss + the quantizer's auxiliary loss on the batch of <paramref name="images"/> drawn for
    /// <paramref name="step"/> (the same batch for the same seed and step), with its metrics, the batch and the output.
    /// </summary>
    public static (Tensor Loss, Dictionary<string, Tensor> Metrics, Tensor Batch,
        TokenizerOutput Output) ReconstructionStep(ImageTokenizer model, Tensor images,
        TokenizerTrainingConfig t, int step)
    {
        model.Quantizer.RegularizerScale = t.EntropyFactor(step);
        var rng = KitRandom.For(t.Seed, step);
        var index = tensor(Enumerable.Range(0, t.BatchSize).Select(_ => (long)rng.Next((int)images.shape[0])).ToArray(),
            device: images.device);
        var x = images.index_select(0, index);
        var output = model.call(x);
        var reconstruction = t.L1 ? F.l1_loss(output.Reconstruction, x) : F.mse_loss(output.Reconstruction, x);
        var loss = reconstruction + output.Quantization.AuxLoss;
        var metrics = new Dictionary<string, Tensor> { ["reconstruction"] = reconstruction.detach() };
        foreach (var (name, value) in output.Quantization.Parts) metrics[name] = value;
        return (loss, metrics, x, output);
    }

    /// <summary>PSNR, SSIM, usage, perplexity, dead codes and rFD on held-out images.</summary>
    public static TokenizerMetrics Evaluate(ImageTokenizer model, TokenizerTrainingConfig t, IImageFeatures probe, Device device)
    {
        model.eval();
        using var batch = EvalImages(t);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.Quantizer.ResetUsage();
        var reconstructions = new List<Tensor>();
        for (long start = 0; start < batch.Count; start += 128)
            reconstructions.Add(model.forward(batch.Images.narrow(0, start, Math.Min(128,
                batch.Count - start)).to(device)).Reconstruction.clamp(-1, 1));
        var recon = cat(reconstructions, 0);
        var real = batch.Images.to(device);
        var stats = model.Quantizer.Stats();
        long side = model.CodeMapSize(t.Resolution);
        long positions = model.Quantizer.PositionsFor(side, side);
        long codes = model.Quantizer.CodesFor(side, side);
        double rfd = ImageMetrics.FrechetDistance(probe.Features(real), probe.Features(recon));
        return new TokenizerMetrics(Psnr: ImageMetrics.Psnr(recon, real), Ssim: ImageMetrics.Ssim(recon, real), Usage: stats.Usage,
            Perplexity: stats.Perplexity, DeadShare: stats.DeadShare, RFd: rfd,
                BitsPerImage: codes * Math.Log2(model.Quantizer.CodebookSize),
            CodesPerImage: codes, PositionsPerImage: positions, TrainSeconds: 0, ImagesPerSecond: double.NaN);
    }
}
