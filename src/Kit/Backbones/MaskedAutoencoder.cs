// Masked-autoencoder pretraining (He et al. 2022): hide most patches of each image (75 %), encode the visible ones
// with the ViT, and let a light decoder — mask tokens at the hidden places, its own positions, a block or two —
// reconstruct the hidden patches' pixels; the loss is the mean squared error on the hidden patches only. No label is
// used. Afterwards the decoder is discarded and the ViT is frozen: the backbone LaVIT's and LexVLA's notebooks build on.
// It pretrains on Shapes and, where Debian's dataset-fashion-mnist is installed, on Fashion-MNIST images too.
using Kit.Core;
using Kit.Data;
using Kit.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Backbones;

/// <summary>MAE pretraining of the backbone; the whole record is the artifact's cache key.</summary>
/// <param name="Vit">The backbone's shape.</param>
/// <param name="MaskRatio">Share of patches hidden from the encoder (MAE: 0.75).</param>
/// <param name="DecoderDim">Width of the light decoder.</param>
/// <param name="DecoderLayers">Its transformer blocks.</param>
/// <param name="Steps">Optimiser steps.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="LearningRate">Peak learning rate (warm-up, then cosine).</param>
/// <param name="ShapesImages">Shapes training images.</param>
/// <param name="NoiseShare">Share of them on a noise background (the rest plain); noise patches cannot be predicted, so they only add
/// loss.</param>
/// <param name="FashionImages">Fashion-MNIST training images added when the dataset is installed (0 = never).</param>
/// <param name="Seed">Data and masking seed.</param>
/// <param name="NormalizeTargets">Reconstruct each hidden patch normalised by its own mean and variance (MAE's norm_pix_loss):
/// on Shapes' mostly black scenes the plain pixel loss is won by predicting the background.</param>
public sealed record MaeConfig(VitConfig Vit, double MaskRatio = 0.75, int DecoderDim = 64, int DecoderLayers = 1, int Steps = 600,
    int BatchSize = 128,
    double LearningRate = 1.5e-3, int ShapesImages = 8192, int FashionImages = 2048, long Seed = 0, bool NormalizeTargets = true,
        double NoiseShare = 0)
{
    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public MaeConfig Validate()
    {
        Vit.Validate();
        if (MaskRatio <= 0 || MaskRatio >= 1) throw new ArgumentException($"MaskRatio={MaskRatio}: expected 0 < ratio < 1.",
            nameof(MaskRatio));
        if (Steps < 1 || BatchSize < 1) throw new ArgumentException($"Steps={Steps}, BatchSize={BatchSize}: expected positive values.",
            nameof(Steps));
        if (ShapesImages < 1) throw new ArgumentException($"ShapesImages={ShapesImages}: expected at least one image.",
            nameof(ShapesImages));
        return this;
    }

    /// <summary>Patches the encoder sees per image.</summary>
    public int Visible => Math.Max(1, (int)Math.Round(Vit.Patches * (1 - MaskRatio)));
}

/// <summary>The light decoder: visible features and mask tokens, at their places, back to every patch's pixels.</summary>
public sealed class MaeDecoder : nn.Module
{
    readonly Linear embed, pred;
    readonly Parameter mask_token, pos_embed;
    readonly ModuleList<TransformerBlock> blocks;
    readonly LayerNorm norm;

    public MaeDecoder(MaeConfig c) : base(nameof(MaeDecoder))
    {
        embed = nn.Linear(c.Vit.Dim, c.DecoderDim);
        mask_token = nn.Parameter(zeros(1, 1, c.DecoderDim));
        pos_embed = nn.Parameter(randn(1, c.Vit.Patches, c.DecoderDim) * 0.02);
        blocks = nn.ModuleList(Enumerable.Range(0, c.DecoderLayers).Select(_ => new TransformerBlock(c.DecoderDim, 4, 4,
            attentionBias: true)).ToArray());
        norm = nn.LayerNorm(c.DecoderDim);
        pred = nn.Linear(c.DecoderDim, (long)c.Vit.PatchSize * c.Vit.PatchSize * c.Vit.Channels);
        RegisterComponents();
    }

    /// <summary>Pixels of every patch [B, N, p·p·C] from the encoded visible patches [B, V, Dim] at <paramref name="visible"/> [B,
    /// V].</summary>
    public Tensor Forward(Tensor encoded, Tensor visible, int patches)
    {
        long b = encoded.shape[0];
        var x = mask_token.expand(b, patches, mask_token.shape[2]).clone();
        x = x.scatter(1, visible.unsqueeze(-1).expand(b, visible.shape[1], x.shape[2]), embed.call(encoded)) + pos_embed;
        foreach (var block in blocks) x = block.Forward(x);
        return pred.call(norm.call(x));
    }
}

/// <summary>A pretrained backbone and how its pretraining went.</summary>
/// <param name="FinalLoss">Mean reconstruction error of the hidden patches over the last logged steps (pixels in [−1, 1]).</param>
/// <param name="Seconds">Pretraining time (NaN when it was loaded from the cache).</param>
/// <param name="FashionImages">Fashion-MNIST images it saw (0 when the dataset is not installed).</param>
public sealed record PretrainedBackbone(VisionTransformer Vit, MaeConfig Config, TrainingLog Log, double FinalLoss, double Seconds,
    int FashionImages)
{
    /// <summary>What decides these weights, for the cache keys of models trained on the backbone's features.</summary>
    public object Key => new { Config, FashionImages };
}

/// <summary>MAE pretraining.</summary>
public static class MaskedAutoencoder
{
    /// <summary>The images [N, p·p·C] cut into patches [B, N, p·p·C], raster order, as the decoder predicts them.</summary>
    public static Tensor Patchify(Tensor images, int patch)
    {
        var (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3]);
        return images.reshape(b, c, h / patch, patch, w / patch, patch).permute(0, 2, 4, 3, 5, 1).reshape(b, h / patch * (w / patch),
            patch * patch * c);
    }

    /// <summary>The inverse of <see cref="Patchify"/>: patches [B, N, p·p·C] back to images [B, C, H, W].</summary>
    public static Tensor Unpatchify(Tensor patches, int patch, int channels)
    {
        long b = patches.shape[0], grid = (long)Math.Round(Math.Sqrt(patches.shape[1]));
        return patches.reshape(b, grid, grid, patch, patch, channels).permute(0, 5, 1, 3, 2, 4).reshape(b, channels, grid * patch,
            grid * patch);
    }

    /// <summary>Indices of the visible and the hidden patches of each image [B, V] and [B, N − V], drawn with
    /// <paramref name="generator"/>.</summary>
    public static (Tensor Visible, Tensor Hidden) RandomMask(long batch, int patches, int visible, Device device,
        Generator? generator = null)
    {
        var order = rand(new long[] { batch, patches }, device: device, generator: generator).argsort(1);
        return (order.narrow(1, 0, visible).sort(1).Values, order.narrow(1, visible, patches - visible));
    }

    /// <summary>The loss of one batch: mean squared error of the reconstructed hidden patches (each normalised by its own statistics when
    /// asked).</summary>
    public static Tensor Loss(VisionTransformer vit, MaeDecoder decoder, Tensor images, Tensor visible, Tensor hidden,
        bool normalizeTargets = false)
    {
        var tokens = vit.Embed(images);
        long b = tokens.shape[0], d = tokens.shape[2];
        var seen = tokens.gather(1, visible.unsqueeze(-1).expand(b, visible.shape[1], d));
        var predicted = decoder.Forward(vit.Encode(seen), visible, vit.Config.Patches);
        var target = Patchify(images, vit.Config.PatchSize);
        if (normalizeTargets)
        {
            var mean = target.mean(new long[] { -1 }, keepdim: true);
            var variance = target.var(-1, keepdim: true);
            target = (target - mean) / (variance + 1e-6).sqrt();
        }
        long p = target.shape[2];
        var index = hidden.unsqueeze(-1).expand(b, hidden.shape[1], p);
        return F.mse_loss(predicted.gather(1, index), target.gather(1, index));
    }

    /// <summary>The pretraining images: Shapes (plain and noise backgrounds) and Fashion-MNIST when installed, [N, C, 32, 32].</summary>
    public static (Tensor Images, int Fashion) Images(MaeConfig c)
    {
        int noisy = (int)Math.Round(c.ShapesImages * c.NoiseShare), plainCount = c.ShapesImages - noisy;
        using var plain = new ShapesDataset(plainCount, Split.Train, new ShapesOptions(Resolution: c.Vit.ImageSize, Seed: c.Seed
            + 21)).Batch(0, plainCount);
        var parts = new List<Tensor> { plain.Images.clone() };
        if (noisy > 0)
        {
            using var noise = new ShapesDataset(noisy, Split.Train, new ShapesOptions(Resolution: c.Vit.ImageSize,
                Background: ShapesBackground.Noise, Seed: c.Seed + 22)).Batch(0, noisy);
            parts.Add(noise.Images.clone());
        }
        int fashion = 0;
        if (c.FashionImages > 0 && FashionMnist.IsAvailable && c.Vit.ImageSize == 32)
        {
            var set = FashionMnist.Load(Split.Train, limit: c.FashionImages);
            using var batch = set.Batch(Enumerable.Range(0, set.Count), channels: c.Vit.Channels);
            parts.Add(batch.Images.clone());
            fashion = set.Count;
        }
        return (cat(parts, 0), fashion);
    }

    /// <summary>
    /// The backbone pretrained with <paramref name="config"/> (trained once, then loaded from the artifact cache), frozen:
    /// no parameter requires a gradient.
    /// </summary>
    public static PretrainedBackbone Pretrained(MaeConfig config, Device? device = null)
    {
        device ??= Devices.Default;
        config.Validate();
        var (images, fashion) = Images(config);
        using var _ = images;
        var log = new TrainingLog();
        // The key: the config and what the data turned out to be (Fashion-MNIST installed or not).
        var artifact = ArtifactCache.Get("mae-vit", new { config, fashion }, 1, () => new VisionTransformer(config.Vit).to(device), v =>
        {
            log = Train(v, config, images, device);
            return null;
        });
        var vit = artifact.Model;
        foreach (var p in vit.parameters()) p.requires_grad = false;
        vit.eval();
        return new PretrainedBackbone(vit, config, log, log.Rows.Count > 0 ? log.FinalLoss() : double.NaN, artifact.Seconds, fashion);
    }

    static TrainingLog Train(VisionTransformer vit, MaeConfig c, Tensor images, Device device)
    {
        using var decoder = new MaeDecoder(c).to(device);
        // The decoder trains with the backbone and is discarded afterwards (it has no dropout, so its mode does not matter).
        var trainer = new Trainer(vit, new TrainerOptions(c.Steps, c.LearningRate, WeightDecay: 0.05, WarmupSteps: Math.Max(1,
            c.Steps / 20),
            LogEvery: Math.Max(1, c.Steps / 100), Label: "MAE backbone"), vit.parameters().Concat(decoder.parameters()));
        long n = images.shape[0];
        return trainer.Run(step =>
        {
            var rng = KitRandom.For(c.Seed, step);
            var index = tensor(Enumerable.Range(0, c.BatchSize).Select(_ => (long)rng.Next((int)n)).ToArray());
            var x = images.index_select(0, index).to(device);
            using var generator = new Generator((ulong)(c.Seed * 1_000_003 + step), device);
            var (visible, hidden) = RandomMask(c.BatchSize, c.Vit.Patches, c.Visible, device, generator);
            return new StepResult(Loss(vit, decoder, x, visible, hidden, c.NormalizeTargets));
        });
    }
}
