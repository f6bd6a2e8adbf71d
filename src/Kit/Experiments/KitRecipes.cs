// The kit-wide recipes, in one place: the sizes every notebook shares at each scale (the judge, the quantizer sweeps'
// tokenizer and its training, the frozen backbone), and the set-up every tokenizer notebook opens with, as one call.
using Kit.Backbones;
using Kit.Core;
using Kit.Evaluation;
using Kit.Tokenizers;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>A notebook's shared start: scale, seed, device, the probe (the judge) and the sweeps' tokenizer recipe.</summary>
/// <param name="ProbeAccuracy">Share of held-out grid cells whose shape and colour the probe reads right.</param>
public sealed record NotebookSetup(RunScale Scale, long Seed, Device Device, ProbeNetwork Probe, TokenizerConfig Tokenizer,
    TokenizerTrainingConfig Training, double ProbeAccuracy)
{
    /// <summary>One line for the notebook to print.</summary>
    public string Describe() =>
        $"scale {Scale}: {Training.Steps} steps × {Training.BatchSize} images; code map " +
            $"{Training.Resolution / Tokenizer.DownsampleFactor}×{Training.Resolution / Tokenizer.DownsampleFactor}; " +
        $"probe reads {ProbeAccuracy:P0} of held-out grid cells right; {Devices.Describe()}";
}

/// <summary>The kit's shared sizes at each scale.</summary>
// Not named "Recipes": the .NET Interactive kernel brings a global namespace of that name, which hides such a class in
// a notebook cell (CS0234) while the kit's own runner compiles it.
public static partial class KitRecipes
{
    /// <summary>The quantizer sweeps' tokenizer: 16 channels on a CPU (tiny, quick, default), 32 on a GPU (full).</summary>
    public static TokenizerConfig Tokenizer(RunScale scale) => new(Channels: scale.Pick(8, 16, 16, 32), LatentDim: 16);

    /// <summary>Training length and data of the sweeps' tokenizers.</summary>
    public static TokenizerTrainingConfig TokenizerTraining(RunScale scale, long seed = 0) => new(
        Steps: scale.Pick(6, 60, 400, 3000), TrainImages: scale.Pick(128, 2048, 8192, 20_000), EvalImages: scale.Pick(32, 256, 512, 1024),
        BatchSize: scale.Pick(16, 64, 64, 64), Seed: seed);

    /// <summary>The probe every notebook shares (trained once, then cached).</summary>
    public static ProbeConfig Probe(RunScale scale, long seed = 0) => new(Steps: scale.Pick(10, 200, 800, 1500),
        TrainImages: scale.Pick(256, 4096, 8192, 20_000), Seed: seed);

    /// <summary>The frozen ViT backbone's MAE pretraining (LaVIT's and LexVLA's notebooks), sized for the default scale's budget.</summary>
    public static MaeConfig Backbone(RunScale scale, long seed = 0) => new(
        new VitConfig(Dim: scale.Pick(32, 128, 128, 192), Layers: scale.Pick(1, 4, 4, 6), Heads: 4),
        DecoderLayers: 2, Steps: scale.Pick(4, 100, 700, 3000), BatchSize: scale.Pick(16, 128, 128, 256),
        ShapesImages: scale.Pick(128, 4096, 8192, 20_000), FashionImages: scale.Pick(0, 1024, 2048, 8192), Seed: seed);

    /// <summary>The backbone's linear readout.</summary>
    public static ReadoutConfig Readout(RunScale scale, long seed = 0) => new(TrainImages: scale.Pick(64, 1024, 2048, 4096),
        TestImages: scale.Pick(32, 256, 512, 1024),
        Steps: scale.Pick(20, 300, 400, 600), Seed: seed);

    /// <summary>
    /// The tokenizer notebooks' set-up as one call: the scale parsed (a typo is an error naming it), every generator seeded,
    /// the probe trained or loaded, and how well it reads held-out scenes.
    /// </summary>
    public static NotebookSetup Setup(string scale, long seed = 0, Device? device = null)
    {
        var run = RunScales.Parse(scale);
        Seeding.SeedEverything(seed);
        device ??= Devices.Default;
        var training = TokenizerTraining(run, seed);
        var probe = ProbeNetwork.Trained(Probe(run, seed), device);
        using var check = Kit.Tokenizers.TokenizerTraining.EvalImages(training);
        double accuracy = probe.CellAccuracy(check.Images.to(device), ProbeNetwork.CellTargets(check.Scenes!).to(device));
        return new NotebookSetup(run, seed, device, probe, Tokenizer(run), training, accuracy);
    }
}
