// Notebook 04's set-up: LaVIT's dynamic tokenizer over the kit's frozen MAE backbone, read at a chosen depth, with the
// pixel decoder and the probe that score every tokenizer, and the features every tokenizer reads.
using Kit.Backbones;
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Notebook;
using Kit.Tokenizers.Dynamic;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Experiments;

/// <summary>Sizes of notebook 04 at one scale.</summary>
/// <param name="Backbone">The frozen backbone's MAE pretraining (shared with LexVLA's notebook).</param>
/// <param name="Pixels">The pixel decoder's training.</param>
/// <param name="Tokenizer">The main tokenizer (LaVIT's ρ = 1/3); the ablations vary it.</param>
/// <param name="Training">Both phases' training.</param>
/// <param name="KeepRatios">The ρ sweep (1 = every patch).</param>
/// <param name="EvalImages">Held-out scenes the tokenizers are scored on.</param>
/// <param name="SpreadImages">Images encoded repeatedly to measure the stochastic mode's spread.</param>
/// <param name="Encodings">Encodings per image for that spread.</param>
/// <param name="Llm">The unified LLM recipe, with its own unified steps.</param>
/// <param name="Depth">Blocks of the backbone the tokenizers read: 0, its embedding layer, whose features are patch-local
/// (the kit's MAE ViT mixes every patch with the whole image from its first block on:
/// <see cref="DynamicTokenizerExperiment.Locality"/>).</param>
/// <param name="Seed">Seed of every generator.</param>
public sealed record DynamicExperimentConfig(MaeConfig Backbone, PixelDecoderConfig Pixels, DynamicTokenizerConfig Tokenizer,
    DynamicTrainingConfig Training,
    IReadOnlyList<double> KeepRatios, int EvalImages, int SpreadImages, int Encodings, UnifiedLlmRecipe Llm, int Depth = 0, long Seed = 0)
{
    /// <summary>The experiment at <paramref name="scale"/>.</summary>
    public static DynamicExperimentConfig For(RunScale scale, long seed = 0)
    {
        var llm = KitRecipes.UnifiedLlm(scale, seed);
        return new DynamicExperimentConfig(
            Backbone: KitRecipes.Backbone(scale, seed),
            Pixels: new PixelDecoderConfig(Steps: scale.Pick(4, 100, 600, 2000), TrainImages: scale.Pick(64, 2048, 4096, 16_384),
                Seed: seed),
            // The main tokenizer runs without the merger: with it, keeping a patch changes nothing at this scale (the
            // merger folds every dropped patch into the kept ones), so the selector has nothing to learn from; the
            // merger is the notebook's ablation.
            Tokenizer: new DynamicTokenizerConfig(KeepRatio: 1.0 / 3, Merger: false, MergerLayers: scale.Pick(1, 2, 2, 4),
                DecoderLayers: scale.Pick(1, 2, 2, 4),
                CodebookSize: llm.Text.CodebookSize, Width: scale.Pick(32, 64, 64, 0)),
            Training: new DynamicTrainingConfig(FeatureSteps: scale.Pick(4, 60, 300, 3000), QuantizedSteps: scale.Pick(4, 30, 150, 1500),
                BatchSize: scale.Pick(16, 64, 64, 128), TrainImages: scale.Pick(64, 2048, 8192,
                    20_000), Seed: seed, SelectorLearningRate: 10),
            KeepRatios: scale == RunScale.Tiny ? new[] { 1.0 / 3, 1.0 } : new[] { 0.25, 1.0 / 3, 0.5, 1.0 },
            EvalImages: scale.Pick(16, 256, 512, 1024), SpreadImages: scale.Pick(4, 16, 32, 64), Encodings: 10,
            Llm: llm with { Unified = llm.Unified with { Steps = scale.Pick(4, 100, 1000, 6000) } }, Seed: seed);
    }
}

/// <summary>What every tokenizer of the notebook shares: the frozen backbone, the pixel decoder, the probe, features and held-out
/// scenes.</summary>
/// <param name="TrainFeatures">The backbone's features of the tokenizers' training images [M, N, C].</param>
/// <param name="Eval">Held-out scenes with their class masks.</param>
/// <param name="EvalFeatures">Their backbone features [E, N, C].</param>
/// <param name="Foreground">Their foreground patches [E, N] (an object covers part of the patch).</param>
/// <param name="PixelCeiling">PSNR of the pixel decoder on the true features: the most any tokenizer's pixels can reach.</param>
/// <param name="ProbeCeiling">The probe's cell accuracy on those decoded images.</param>
/// <param name="ProbeOnReal">The probe's cell accuracy on the real images.</param>
/// <param name="MeanFeatureCos">Feature cos of a reconstruction without tokens: each patch given its training mean (the floor to
/// beat).</param>
/// <param name="Reader">The backbone at the config's depth: what every tokenizer of the notebook reads.</param>
/// <param name="ReaderKey">Its cache key (the backbone's and the depth).</param>
public sealed record DynamicSetup(DynamicExperimentConfig Config, RunScale Scale, Device Device, PretrainedBackbone Backbone,
    IPatchBackbone Reader, object ReaderKey,
    PixelDecoder Pixels, double PixelSeconds, ProbeNetwork Probe, Tensor TrainFeatures, ImageBatch Eval, Tensor EvalFeatures,
        Tensor Foreground, double PixelCeiling,
    double ProbeCeiling, double ProbeOnReal, double MeanFeatureCos)
{
    /// <summary>Patches per side of the backbone's grid.</summary>
    public int Grid => Backbone.Vit.GridHeight;
}

/// <summary>Notebook 04's set-up.</summary>
public static partial class DynamicTokenizerExperiment
{
    /// <summary>Pretrains (or loads) the backbone, the pixel decoder and the probe; computes the features every tokenizer reads.</summary>
    public static DynamicSetup Prepare(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var config = DynamicExperimentConfig.For(scale, seed);
        var backbone = MaskedAutoencoder.Pretrained(config.Backbone, device);
        var reader = backbone.Vit.AtDepth(config.Depth);
        object readerKey = config.Depth == backbone.Config.Vit.Layers ? backbone.Key : new { backbone.Key, config.Depth };
        var (pixels, pixelSeconds) = PixelDecoder.Trained(reader, readerKey, config.Pixels, device);
        var probe = ProbeNetwork.Trained(KitRecipes.Probe(scale, seed), device);
        var train = DynamicTokenizerTraining.TrainingFeatures(reader, config.Training.TrainImages, seed, device);
        var eval = new ShapesDataset(config.EvalImages, Split.Test, new ShapesOptions(Resolution: backbone.Vit.ImageSize, Seed: seed
            + 61)).Batch(0, config.EvalImages).To(device);
        var features = reader.FeaturesOf(eval.Images, device);
        int grid = backbone.Vit.GridHeight;
        var foreground = PatchGrid.Foreground(eval.Masks!, grid, grid);
        using var decoded = Decode(pixels, features);
        var targets = ProbeNetwork.CellTargets(eval.Scenes!).to(device);
        using var mean = train.mean(new long[] { 0 }, keepdim: true);
        double floor = F.cosine_similarity(mean.expand_as(features), features, dim: -1).mean().item<float>();
        return new DynamicSetup(Config: config, Scale: scale, Device: device, Backbone: backbone, Reader: reader, ReaderKey: readerKey,
            Pixels: pixels, PixelSeconds: pixelSeconds, Probe: probe, TrainFeatures: train, Eval: eval, EvalFeatures: features,
            Foreground: foreground, PixelCeiling: ImageMetrics.Psnr(decoded, eval.Images), ProbeCeiling: probe.CellAccuracy(decoded,
                targets),
            ProbeOnReal: probe.CellAccuracy(eval.Images, targets), MeanFeatureCos: floor);
    }

    /// <summary>
    /// How patch-local the backbone's features are after each number of blocks: the mean cos of each held-out patch
    /// feature to that position's mean over the training images, over foreground and background patches. A selector can
    /// only learn to drop what the rest predicts; where a background patch's feature is close to its position's mean,
    /// dropping it costs little, and where it is as far from it as an object's, the selector has nothing to choose by.
    /// </summary>
    public static ResultTable Locality(DynamicSetup s)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var vit = s.Backbone.Vit;
        int images = (int)Math.Min(2048, s.TrainFeatures.shape[0]);
        // the tokenizers' own training scenes
        using var train = DynamicTokenizerTraining.TrainingScenes(images, s.Config.Seed, vit.ImageSize).To(s.Device);
        var background = s.Foreground.logical_not();
        var rows = new List<(int Depth, Tensor Cos)>();
        for (int depth = 0; depth <= vit.Config.Layers; depth++)
        {
            var reader = vit.AtDepth(depth);
            var mean = reader.FeaturesOf(train.Images, s.Device).mean(new long[] { 0 }, keepdim: true);
            var features = reader.FeaturesOf(s.Eval.Images, s.Device);
            rows.Add((depth, F.cosine_similarity(mean.expand_as(features), features, dim: -1)));
        }
        return ResultTable.Of($"How patch-local the backbone's features are, by depth ({s.Eval.Images.shape[0]} held-out scenes)", rows,
            new TableColumn<(int Depth, Tensor Cos)>[]
            {
                new("blocks read", r => r.Depth == 0 ? "0 (embedding)" : $"{r.Depth}"),
                new("cos to position's mean: all", r => r.Cos.mean().item<float>()),
                new("foreground", r => r.Cos.masked_select(s.Foreground).mean().item<float>()),
                new("background", r => r.Cos.masked_select(background).mean().item<float>()),
                new("read by the tokenizers", r => r.Depth == s.Config.Depth ? "yes" : ""),
            },
            note: "Each patch feature against its position's mean over training images: 1 = predictable without the patch. Foreground: " +
                "patches an object covers part of.");
    }

    // Features [B, N, C] → images through the pixel decoder, 256 at a time.
    static Tensor Decode(PixelDecoder pixels, Tensor features)
    {
        using var noGrad = no_grad();
        return Scopes.InChunks(features.shape[0], 256, (start, n) => pixels.forward(features.narrow(0, start, n)).clamp(-1, 1));
    }
}
