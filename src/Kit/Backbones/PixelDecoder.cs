// From backbone features back to pixels, so that a model that reconstructs or generates features can be looked at
// and scored by the probe. LaVIT decodes pixels with a diffusion model conditioned on the reconstructed features; the
// kit replaces it with the tokenizers' convolutional decoder, trained here on the frozen backbone's features of real
// images (all N patches, as an h × w map) to the images themselves, and then applied to reconstructed features.
using Kit.Core;
using Kit.Data;
using Kit.Tokenizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Backbones;

/// <summary>The pixel decoder's training; with the backbone's key, the cache key.</summary>
/// <param name="Channels">Width of the convolutional decoder at full resolution.</param>
/// <param name="Steps">Optimiser steps.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="TrainImages">Shapes training images.</param>
/// <param name="Seed">Data seed.</param>
public sealed record PixelDecoderConfig(int Channels = 32, int Steps = 600, int BatchSize = 64, double LearningRate = 2e-3,
    int TrainImages = 4096, long Seed = 0);

/// <summary>Patch features [B, N, C] → images [B, C_img, H, W].</summary>
public sealed class PixelDecoder : nn.Module<Tensor, Tensor>
{
    readonly ConvDecoder decoder;

    public PixelDecoder(IPatchBackbone backbone, PixelDecoderConfig config) : base(nameof(PixelDecoder))
    {
        int factor = backbone.ImageSize / backbone.GridHeight;
        if (backbone.GridHeight != backbone.GridWidth || factor < 2 || (factor & (factor - 1)) != 0)
            throw new ArgumentException($"a {backbone.GridHeight}×{backbone.GridWidth} grid over {backbone.ImageSize}-pixel images: " +
                $"the decoder needs a square grid and a power-of-two patch.", nameof(backbone));
        GridSide = backbone.GridHeight;
        var multipliers = Enumerable.Repeat(1, (int)Math.Log2(factor)).ToArray();
        decoder = new ConvDecoder(new TokenizerConfig(Channels: config.Channels, ChannelMultipliers: multipliers, LatentDim: backbone.Dim));
        RegisterComponents();
    }

    /// <summary>Patches per side.</summary>
    public int GridSide { get; }

    /// <summary>Images (about [−1, 1]) from features [B, N, C] in raster order.</summary>
    public override Tensor forward(Tensor features)
    {
        long b = features.shape[0], c = features.shape[2];
        return decoder.call(features.transpose(1, 2).reshape(b, c, GridSide, GridSide));
    }

    /// <summary>
    /// The decoder of <paramref name="backbone"/>'s features, trained on real Shapes images (once, then loaded from the artifact
    /// cache; <paramref name="backboneKey"/> says which backbone it decodes), frozen.
    /// </summary>
    public static (PixelDecoder Decoder, double Seconds) Trained(IPatchBackbone backbone, object backboneKey, PixelDecoderConfig config,
        Device? device = null)
    {
        device ??= Devices.Default;
        var artifact = ArtifactCache.Get("pixel-decoder", new { Backbone = backboneKey, config }, 1, () => new PixelDecoder(backbone,
            config).to(device), m =>
        {
            using var data = new ShapesDataset(config.TrainImages, Split.Train, new ShapesOptions(Resolution: backbone.ImageSize,
                Seed: config.Seed + 41)).Batch(0, config.TrainImages);
            using var features = backbone.FeaturesOf(data.Images, device);
            var images = data.Images.to(device);
            long n = images.shape[0];
            var trainer = new Trainer(m, new TrainerOptions(config.Steps, config.LearningRate, WarmupSteps: Math.Max(1, config.Steps / 20),
                LogEvery: Math.Max(1, config.Steps / 50),
                Label: "pixel decoder"));
            trainer.Run(step =>
            {
                var rng = KitRandom.For(config.Seed, step);
                var index = tensor(Enumerable.Range(0, config.BatchSize).Select(_ => (long)rng.Next((int)n)).ToArray(), device: device);
                return new StepResult(F.mse_loss(m.forward(features.index_select(0, index)), images.index_select(0, index)));
            });
            return null;
        });
        var model = artifact.Model;
        foreach (var p in model.parameters()) p.requires_grad = false;
        return (model, artifact.Seconds);
    }

}
