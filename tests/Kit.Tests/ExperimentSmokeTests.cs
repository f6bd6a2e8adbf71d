// Every experiment end to end at the tiny scale (a few steps, a few images), in a cache of its own: the functions the
// notebooks and the CLI call, run by the tests too. These check that the pieces fit and the results are well formed,
// not what they measure (that is the notebooks' job at the default scale).
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Experiments;
using Kit.Language;
using Kit.Quantizers;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class ExperimentSmokeTests : TempDirectoryTest
{
    readonly string? _cache = Environment.GetEnvironmentVariable("KIT_CACHE");

    public ExperimentSmokeTests() => Environment.SetEnvironmentVariable("KIT_CACHE", Path.Combine(Dir, "cache"));

    public new void Dispose()
    {
        Environment.SetEnvironmentVariable("KIT_CACHE", _cache);
        base.Dispose();
    }

    static bool Finite(double x) => double.IsFinite(x);

    [Fact]
    public void TokenizerSweepAtTinyScale()
    {
        var kit = Recipes.Setup("tiny", seed: 1, CPU);
        var plain = new SweepEntry("VQ 16", new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 16));
        var lfq = new SweepEntry("LFQ 2^4", new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 4), kit.Tokenizer with { PreQuantNorm = true });
        var sweep = TokenizerSweep.Run("tiny sweep", new[] { plain, lfq }, kit.Tokenizer, kit.Training, kit.Probe);
        Assert.Equal(2, sweep.Table.Frame.Rows.Count);
        Assert.True(Finite(sweep.Metrics(plain).Psnr) && Finite(sweep.Metrics(lfq).Psnr));
        Assert.Equal(16, sweep.Of(plain).Tokenizer.CodebookSize);
        Assert.Throws<ArgumentException>(() => sweep.Of(new SweepEntry("VQ 16", plain.Quantizer))); // by reference, not by name
        Assert.NotNull(TokenizerSweep.Reconstructions(sweep, kit.Training));
        // Run again: everything comes from the cache, with the same numbers.
        var again = TokenizerSweep.Run("tiny sweep", new[] { plain }, kit.Tokenizer, kit.Training, kit.Probe);
        Assert.True(again.Of(plain).FromCache);
        Assert.Equal(sweep.Metrics(plain).Psnr, again.Metrics(plain).Psnr);
    }

    [Fact]
    public void CodePriorAtTinyScale()
    {
        var kit = Recipes.Setup("tiny", seed: 2, CPU);
        var entry = new SweepEntry("VQ 16", new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 16));
        var sweep = TokenizerSweep.Run("tiny", new[] { entry }, kit.Tokenizer, kit.Training, kit.Probe);
        var config = CodePriorConfig.For(RunScale.Tiny, 2);
        var prior = new CodePriorEntry("VQ 16", sweep.Of(entry));
        var factorized = new CodePriorEntry("VQ 16 factorized", sweep.Of(entry), new[] { 2, 2 });
        var results = CodePriorExperiment.Run(new[] { prior, factorized }, config, kit.Probe);
        Assert.Equal(2, results.Results.Count);
        var r = results.Of(factorized);
        Assert.InRange(r.TextToImage.ObjectAccuracy, 0, 1);
        Assert.True(r.EmbeddingRows < results.Of(prior).EmbeddingRows + 8);
    }

    [Fact]
    public void ClassConditionalAtTinyScale()
    {
        // Fashion-MNIST stand-in files: 64 training and 20 test images of random pixels and labels.
        var data = Directory.CreateDirectory(Path.Combine(Dir, "fashion")).FullName;
        var rng = new Random(3);
        byte[] Bytes(int n) { var b = new byte[n]; rng.NextBytes(b); return b; }
        IdxFile.Write(Path.Combine(data, "train-images-idx3-ubyte"), new[] { 64, 28, 28 }, Bytes(64 * 784));
        IdxFile.Write(Path.Combine(data, "train-labels-idx1-ubyte"), new[] { 64 }, Enumerable.Range(0, 64).Select(i => (byte)(i % 10)).ToArray());
        IdxFile.Write(Path.Combine(data, "t10k-images-idx3-ubyte"), new[] { 20, 28, 28 }, Bytes(20 * 784));
        IdxFile.Write(Path.Combine(data, "t10k-labels-idx1-ubyte"), new[] { 20 }, Enumerable.Range(0, 20).Select(i => (byte)(i % 10)).ToArray());
        var previous = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, data);
        try
        {
            var result = ClassConditionalExperiment.Run(ClassConditionalConfig.For(RunScale.Tiny, 3), CPU);
            Assert.Equal(10, result.PerClass.Count);
            Assert.Equal(0.1, result.Chance, 12);
            Assert.Equal(10, result.Samples.shape[0]);
            Assert.NotNull(result.Table());
        }
        finally { Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, previous); }
    }

    [Fact]
    public void UnifiedLlmAtTinyScale()
    {
        var setup = UnifiedLlmExperiment.Prepare(RunScale.Tiny, 4, CPU);
        var (text, perplexity, _) = UnifiedLlmExperiment.PretrainText(setup, CPU);
        Assert.True(Finite(perplexity) && perplexity > 1);
        var results = new[] { VisualInterface.Tokens, VisualInterface.Regression, VisualInterface.PatchProjection }
            .Select(i => UnifiedLlmExperiment.TrainVariant(setup, text.Model, i, i.ToString(), CPU)).ToList();
        Assert.All(results, r => Assert.Equal(setup.TestSet.Test.Count, r.Scores.SampleCaptions.Count));
        Assert.NotNull(results[0].Scores.TextToImage);
        Assert.Null(results[2].Scores.TextToImage); // a patch projection cannot draw
        Assert.Equal(setup.TestSet.Test.Count, results[0].Scores.TextToImage!.Generated.shape[0]);
        var (understanding, generation) = UnifiedLlmExperiment.Tables(setup, results, perplexity);
        Assert.Equal(3, understanding.Frame.Rows.Count);
        Assert.Equal(2, generation.Frame.Rows.Count);
    }

    [Fact]
    public void BackboneAtTinyScale()
    {
        var report = BackboneExperiment.Run(RunScale.Tiny, 5, CPU);
        Assert.Equal(64, report.Backbone.Vit.GridHeight * report.Backbone.Vit.GridWidth);
        Assert.All(report.Backbone.Vit.parameters(), p => Assert.False(p.requires_grad)); // frozen
        Assert.InRange(report.Pretrained.Shape, 0, 1);
        Assert.Equal(2, report.Table().Frame.Rows.Count);
        var features = report.Backbone.Vit.PatchFeatures(new ShapesDataset(2).Batch(0, 2).Images);
        Assert.Equal(new long[] { 2, 64, report.Backbone.Vit.Dim }, features.shape);
    }
}
