// What a frozen backbone's patch features know: a linear readout (one linear layer per attribute, trained on top of
// the frozen features) of the shape and the colour in each of the scene's 3×3 grid cells, each cell's features being
// the mean of the patches whose centre lies in it. Run on the pretrained backbone and on the same network at its
// random initialisation, it shows what pretraining added; chance is the most frequent class.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Backbones;

/// <summary>Size of a readout.</summary>
/// <param name="TrainImages">Shapes training scenes whose cells train the linear heads.</param>
/// <param name="TestImages">Held-out scenes the accuracy is measured on (test split).</param>
/// <param name="Steps">Adam steps of the linear heads.</param>
/// <param name="BatchSize">Cells per step.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="Seed">Data and batch seed.</param>
public sealed record ReadoutConfig(int TrainImages = 2048, int TestImages = 512, int Steps = 400, int BatchSize = 256,
    double LearningRate = 1e-2, long Seed = 0);

/// <summary>Readout accuracies on the objects of held-out scenes (cells that hold an object), and their chance levels.</summary>
/// <param name="Shape">Share of objects whose shape the readout names.</param>
/// <param name="Colour">Share of objects whose colour it names.</param>
/// <param name="ShapeChance">The most frequent shape's share among those objects.</param>
/// <param name="ColourChance">The most frequent colour's share.</param>
/// <param name="Empty">Share of empty cells it calls empty (shape head).</param>
public sealed record ReadoutResult(double Shape, double Colour, double ShapeChance, double ColourChance, double Empty);

/// <summary>Linear readout of per-cell shape and colour from frozen patch features.</summary>
public static class PatchReadout
{
    /// <summary>Trains the two linear heads on <paramref name="backbone"/>'s frozen cell features and measures them on held-out
    /// scenes.</summary>
    public static ReadoutResult Run(IPatchBackbone backbone, ReadoutConfig c, Device? device = null)
    {
        device ??= Devices.Default;
        using var scope = NewDisposeScope();
        var (trainX, trainY) = Cells(backbone, c.TrainImages, Split.Train, c.Seed + 31, device);
        var (testX, testY) = Cells(backbone, c.TestImages, Split.Test, c.Seed + 32, device);
        // Standardised features (train statistics): one learning rate suits every backbone, trained or not.
        var mean = trainX.mean(new long[] { 0 }, keepdim: true);
        var std = trainX.std(0, keepdim: true).clamp_min(1e-6);
        trainX = (trainX - mean) / std;
        testX = (testX - mean) / std;
        var generator = new Generator((ulong)c.Seed + 33, device);
        using var shapeHead = nn.Linear(backbone.Dim, ProbeNetwork.ShapeClasses).to(device);
        using var colourHead = nn.Linear(backbone.Dim, ProbeNetwork.ColourClasses).to(device);
        var optimizer = optim.Adam(shapeHead.parameters().Concat(colourHead.parameters()), c.LearningRate);
        long n = trainX.shape[0];
        for (int step = 0; step < c.Steps; step++)
            Scopes.Run(() =>
            {
                var index = randint(n, new long[] { c.BatchSize }, generator: generator, device: device);
                var x = trainX.index_select(0, index);
                var y = trainY.index_select(0, index);
                var loss = F.cross_entropy(shapeHead.call(x), y.select(1, 0)) + F.cross_entropy(colourHead.call(x), y.select(1, 1));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            });
        using var noGrad = no_grad();
        var shape = shapeHead.call(testX).argmax(1);
        var colour = colourHead.call(testX).argmax(1);
        var occupied = testY.select(1, 0).gt(0);
        double Share(Tensor right, Tensor where) => right.logical_and(where).sum().item<long>() / (double)Math.Max(1,
            where.sum().item<long>());
        double Majority(Tensor labels) => labels.bincount(null).max().item<long>() / (double)Math.Max(1, labels.shape[0]);
        var objects = testY.index_select(0, occupied.nonzero().reshape(-1));
        return new ReadoutResult(Share(shape.eq(testY.select(1, 0)), occupied), Share(colour.eq(testY.select(1, 1)), occupied),
            Majority(objects.select(1, 0)), Majority(objects.select(1, 1)), Share(shape.eq(0), occupied.logical_not()));
    }

    /// <summary>Cell features [N·9, Dim] of <paramref name="count"/> scenes and their (shape, colour) labels [N·9, 2] (0 =
    /// empty).</summary>
    public static (Tensor Features, Tensor Labels) Cells(IPatchBackbone backbone, int count, Split split, long seed, Device device)
    {
        using var batch = new ShapesDataset(count, split, new ShapesOptions(Resolution: backbone.ImageSize, Seed: seed)).Batch(0, count);
        var pooling = PatchGrid.CellPooling(backbone.GridHeight, backbone.GridWidth, device);
        using var noGrad = no_grad();
        var features = Scopes.InChunks(count, 256, (start, n) => pooling.MatmulChecked(backbone.PatchFeatures(batch.Images.narrow(0, start,
            n).to(device))));
        return (features.reshape(-1, backbone.Dim).to(device), ProbeNetwork.CellTargets(batch.Scenes!).reshape(-1, 2).to(device));
    }
}
