// The probe: a small CNN the kit trains on Shapes (what shape and colour sits in each of the 9 grid cells)
// or on Fashion-MNIST classes, then freezes. It reads generated and reconstructed images (probe accuracy),
// its features give the Fréchet distance (the kit's stand-in for FID; rFD on reconstructions), and its
// feature extractor is the frozen "visual backbone" with patch features later notebooks need.
using Kit.Core;
using Kit.Data;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Evaluation;

/// <summary>What the probe learns to read.</summary>
public enum ProbeTask { ShapesCells, FashionClasses }

/// <summary>Probe architecture and training; the cache key.</summary>
public sealed record ProbeConfig(ProbeTask Task = ProbeTask.ShapesCells, int ImageChannels = 3, int Resolution = 32, int Width = 32,
    int FeatureDim = 128, int Steps = 600, int BatchSize = 64, double LearningRate = 2e-3, int TrainImages = 8192, long Seed = 0);

/// <summary>
/// A small CNN with a feature extractor (patch features and a pooled vector) and task heads. Images are resized to
/// 36×36 so that two 2× poolings leave a 9×9 map whose 3×3 blocks are exactly the scene's grid cells; the Shapes
/// head reads each cell with one shared per-cell classifier (a 1×1 convolution over the cell's pooled features),
/// so every object in every cell trains the same weights, which learns far faster than one fully connected head over all cells.
/// </summary>
public sealed class ProbeNetwork : nn.Module<Tensor, Tensor>, IImageFeatures
{
    public const int Cells = 9;
    public static readonly int ShapeClasses = Enum.GetValues<ShapeKind>().Length + 1;   // + empty
    public static readonly int ColourClasses = Enum.GetValues<ShapeColour>().Length + 1; // + none
    const int InputSide = 36; // 4 · 9: the grid's 3×3 cells become 3×3 blocks of the 9×9 patch map
    readonly nn.Module<Tensor, Tensor> conv1, conv2, conv3, conv4, norm1, norm2, norm3, norm4, fc;
    readonly nn.Module<Tensor, Tensor>? cell_hidden, cell_out, head; // the Shapes heads or the Fashion-MNIST head

    public ProbeNetwork(ProbeConfig config) : base(nameof(ProbeNetwork))
    {
        Config = config;
        int w = config.Width;
        conv1 = nn.Conv2d(config.ImageChannels, w, 3, padding: 1); norm1 = Layers.GroupNorm(8, w);
        conv2 = nn.Conv2d(w, 2 * w, 3, padding: 1); norm2 = Layers.GroupNorm(8, 2 * w);
        conv3 = nn.Conv2d(2 * w, 4 * w, 3, padding: 1); norm3 = Layers.GroupNorm(8, 4 * w);
        conv4 = nn.Conv2d(4 * w, 4 * w, 3, padding: 1); norm4 = Layers.GroupNorm(8, 4 * w);
        fc = nn.Linear(4 * w * Cells, config.FeatureDim);
        if (config.Task == ProbeTask.ShapesCells)
        {
            cell_hidden = nn.Conv2d(4 * w, config.FeatureDim, 1);
            cell_out = nn.Conv2d(config.FeatureDim, ShapeClasses + ColourClasses, 1);
        }
        else head = nn.Linear(config.FeatureDim, FashionMnist.ClassNames.Count);
        RegisterComponents();
    }

    public ProbeConfig Config { get; }

    /// <summary>Patch features [B, 4·Width, 9, 9]: the frozen backbone's feature map (each 3×3 block is one grid cell).</summary>
    public Tensor PatchFeatures(Tensor images)
    {
        var x = F.interpolate(images, new long[] { InputSide, InputSide }, mode: InterpolationMode.Bilinear, align_corners: false);
        var h = F.max_pool2d(F.silu(norm1.call(conv1.call(x))), 2);
        h = F.max_pool2d(F.silu(norm2.call(conv2.call(h))), 2);
        h = F.silu(norm3.call(conv3.call(h)));
        return F.silu(norm4.call(conv4.call(h)));
    }

    /// <summary>Features pooled per grid cell [B, 4·Width, 3, 3].</summary>
    Tensor CellFeatures(Tensor images) => F.avg_pool2d(PatchFeatures(images), 3);

    /// <summary>The pooled feature vector [B, FeatureDim] used for Fréchet distances.</summary>
    public Tensor Features(Tensor images) => F.silu(fc.call(CellFeatures(images).flatten(1)));

    /// <summary>Task logits: [B, 9·(6 + 8)] (cell-major) for Shapes cells, [B, 10] for Fashion-MNIST.</summary>
    public override Tensor forward(Tensor images)
    {
        if (head is not null) return head.call(Features(images));
        var perCell = cell_out!.call(F.silu(cell_hidden!.call(CellFeatures(images))));     // [B, 14, 3, 3]
        return perCell.flatten(2).transpose(1, 2).reshape(images.shape[0], -1);         // cell r·3+c, then its 14 logits
    }

    /// <summary>The Fashion-MNIST class the probe reads in each image, read 256 images at a time.</summary>
    public long[] Classes(Tensor images)
    {
        if (Config.Task != ProbeTask.FashionClasses) throw new InvalidOperationException($"a {Config.Task} probe reads grid cells, not " +
            $"classes.");
        using var noGrad = no_grad();
        var device = parameters().First().device;
        return Scopes.InChunks(images.shape[0], 256, (start, n) => forward(images.narrow(0, start,
            n).to(device)).argmax(1)).cpu().data<long>().ToArray();
    }

    /// <summary>Shapes targets for a batch: per cell the shape (0 = empty, else shape + 1) and colour (0 = none, else colour + 1): [B, 9,
    /// 2].</summary>
    public static Tensor CellTargets(IReadOnlyList<ShapesScene> scenes)
    {
        var data = new long[scenes.Count * Cells * 2];
        for (int b = 0; b < scenes.Count; b++)
            foreach (var o in scenes[b].Objects)
            {
                int cell = o.Row * 3 + o.Column;
                data[(b * Cells + cell) * 2] = (int)o.Shape + 1;
                data[(b * Cells + cell) * 2 + 1] = (int)o.Colour + 1;
            }
        return tensor(data, new long[] { scenes.Count, Cells, 2 });
    }

    /// <summary>Cross-entropy of the Shapes heads against [B, 9, 2] targets.</summary>
    public Tensor ShapesLoss(Tensor logits, Tensor targets)
    {
        var (shape, colour) = SplitShapes(logits);
        return F.cross_entropy(shape.reshape(-1, ShapeClasses), targets.select(2, 0).reshape(-1))
             + F.cross_entropy(colour.reshape(-1, ColourClasses), targets.select(2, 1).reshape(-1));
    }

    /// <summary>Shape logits [B, 9, 6] and colour logits [B, 9, 8].</summary>
    public static (Tensor Shape, Tensor Colour) SplitShapes(Tensor logits)
    {
        var perCell = logits.reshape(logits.shape[0], Cells, ShapeClasses + ColourClasses);
        return (perCell.narrow(2, 0, ShapeClasses), perCell.narrow(2, ShapeClasses, ColourClasses));
    }

    /// <summary>Share of (image, cell) pairs whose shape and colour the probe reads correctly.</summary>
    public double CellAccuracy(Tensor images, Tensor targets)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (shape, colour) = SplitShapes(forward(images));
        var right = shape.argmax(2).eq(targets.select(2, 0)).logical_and(colour.argmax(2).eq(targets.select(2, 1)));
        return right.to(float32).mean().item<float>();
    }

    /// <summary>Trains a probe for <paramref name="config"/>, or loads the one trained before (artifact cache).</summary>
    public static ProbeNetwork Trained(ProbeConfig config, Device? device = null)
    {
        device ??= Devices.Default;
        // Version: bump when the network or its training changes, so a probe cached before is never loaded into the new shape.
        var (probe, _) = ArtifactCache.GetOrTrain("probe", config, version: 1, () => new ProbeNetwork(config).to(device), p => Train(p,
            device));
        foreach (var parameter in probe.parameters()) parameter.requires_grad = false; // frozen
        return probe;
    }

    static void Train(ProbeNetwork probe, Device device)
    {
        var c = probe.Config;
        ImageBatch data;
        if (c.Task == ProbeTask.ShapesCells)
            data = new ShapesDataset(c.TrainImages, Split.Train, new ShapesOptions(Resolution: c.Resolution, Seed: c.Seed + 1000)).Batch(0,
                c.TrainImages);
        else
        {
            var fashion = FashionMnist.Load(Split.Train, limit: c.TrainImages);
            data = fashion.Batch(Enumerable.Range(0, fashion.Count), c.ImageChannels);
        }
        using (data)
        {
            var targets = c.Task == ProbeTask.ShapesCells ? CellTargets(data.Scenes!) : data.Labels!;
            var trainer = new Trainer(probe, new TrainerOptions(c.Steps, c.LearningRate, WarmupSteps: c.Steps / 20,
                Label: $"probe ({c.Task})"));
            long n = data.Images.shape[0];
            trainer.Run(step =>
            {
                var rng = KitRandom.For(c.Seed, step);
                var index = tensor(Enumerable.Range(0, c.BatchSize).Select(_ => (long)rng.Next((int)n)).ToArray());
                var x = data.Images.index_select(0, index).to(device);
                var y = targets.index_select(0, index).to(device);
                var logits = probe.forward(x);
                return new StepResult(c.Task == ProbeTask.ShapesCells ? probe.ShapesLoss(logits, y) : F.cross_entropy(logits, y));
            });
            targets.Dispose();
        }
    }
}
