// The frozen backbone of LaVIT's and LexVLA's notebooks, and what its pretraining bought: the MAE-pretrained ViT (cached)
// and the linear readout of per-cell shape and colour from its patch features, beside the same readout of the same
// network at its random initialisation.
using Kit.Backbones;
using Kit.Core;
using Kit.Notebook;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>The pretrained backbone and both readouts.</summary>
public sealed record BackboneReport(PretrainedBackbone Backbone, ReadoutResult Pretrained, ReadoutResult Random, ReadoutConfig Readout)
{
    // One row of the table: which features, their readout, and what pretraining cost (none for the random network).
    sealed record Row(string Features, ReadoutResult Readout, double? MaeLoss, object? Seconds);

    /// <summary>One row per backbone: shape and colour read from the features, beside chance, and what pretraining cost.</summary>
    public ResultTable Table()
        => ResultTable.Of("What the frozen backbone's patch features know (linear readout per grid cell, held-out scenes)",
        new[]
        {
            new Row($"ViT pretrained by MAE ({Backbone.Config.Steps} " +
                $"steps{(Backbone.FashionImages > 0 ? $", with {Backbone.FashionImages} Fashion-MNIST images" : "")})",
                Pretrained, double.IsNaN(Backbone.FinalLoss) ? null : Backbone.FinalLoss, double.IsNaN(Backbone.Seconds)
                    ? "cached" : Backbone.Seconds),
            new Row("the same ViT, random initialisation", Random, null, null),
        }, new TableColumn<Row>[]
        {
            new("features", r => r.Features),
            new("shape %", r => 100 * r.Readout.Shape),
            new("colour %", r => 100 * r.Readout.Colour),
            new("empty cells called empty %", r => 100 * r.Readout.Empty),
            new("shape chance %", r => 100 * r.Readout.ShapeChance),
            new("colour chance %", r => 100 * r.Readout.ColourChance),
            new("MAE loss", r => r.MaeLoss),
            new("pretrain s", r => r.Seconds),
        },
        note: $"Each cell's features: the mean of the patches whose centre lies in it; one linear layer per attribute, trained on " +
            $"{Readout.TrainImages} scenes' cells, " +
              $"scored on the objects of {Readout.TestImages} test scenes. Chance: the most frequent class. MAE loss: the hidden " +
                  $"patches' reconstruction error (each patch normalised).",
        measured: new[] { "pretrain s" });
}

/// <summary>Pretrains (or loads) the backbone and reads it out.</summary>
public static class BackboneExperiment
{
    /// <summary>The backbone of <paramref name="scale"/> and its readouts, pretrained and at random initialisation.</summary>
    public static BackboneReport Run(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var backbone = MaskedAutoencoder.Pretrained(KitRecipes.Backbone(scale, seed), device);
        var readout = KitRecipes.Readout(scale, seed);
        var pretrained = PatchReadout.Run(backbone.Vit, readout, device);
        using var random = RandomInit(backbone.Config.Vit, seed, device);
        return new BackboneReport(backbone, pretrained, PatchReadout.Run(random, readout, device), readout);
    }

    // The same network at a random initialisation drawn from its own seed; torch's generator is put back afterwards.
    static VisionTransformer RandomInit(VitConfig config, long seed, Device device)
    {
        using var state = random.get_rng_state();
        try
        {
            manual_seed(seed + 4242);
            var vit = new VisionTransformer(config).to(device);
            foreach (var p in vit.parameters()) p.requires_grad = false;
            vit.eval();
            return vit;
        }
        finally { random.set_rng_state(state); }
    }
}
