// Every experiment end to end at the tiny scale (a few steps, a few images), in a cache of its own: the functions the
// notebooks and the CLI call, run by the tests too. These check that the pieces fit and the results are well formed,
// not what they measure (that is the notebooks' job at the default scale).
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Experiments;
using Kit.Language;
using Kit.Language.UnifiedCodebook;
using Kit.Quantizers;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class ExperimentSmokeTests : TempDirectoryTest
{
    readonly string? _cache = Environment.GetEnvironmentVariable("KIT_CACHE");

    public ExperimentSmokeTests() => Environment.SetEnvironmentVariable("KIT_CACHE", Path.Combine(Dir, "cache"));

    // Overrides (not hides) the base's Dispose: xunit calls IDisposable.Dispose, and a hiding method would never run,
    // leaving KIT_CACHE pointing at this test's deleted folder for every test after it.
    public override void Dispose()
    {
        Environment.SetEnvironmentVariable("KIT_CACHE", _cache);
        base.Dispose();
    }

    static bool Finite(double x) => double.IsFinite(x);

    [Fact]
    public void TokenizerSweepAtTinyScale()
    {
        var kit = KitRecipes.Setup("tiny", seed: 1, CPU);
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
        var kit = KitRecipes.Setup("tiny", seed: 2, CPU);
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
    public void UnifiedCodebookSetUpWithoutTheOptionalDataTakesTheCodebookTheTextAllows()
    {
        // The README-only machine: no WordNet, so the text has a few dozen ids, fewer than notebook 07's 256 codes.
        var previous = Environment.GetEnvironmentVariable(KitEnvironment.OptionalData);
        Environment.SetEnvironmentVariable(KitEnvironment.OptionalData, "ignore");
        try
        {
            var asked = UnifiedCodebookConfig.For(RunScale.Tiny, 8) with { CodebookSize = 256 };
            var setup = UnifiedCodebookExperiment.Prepare(asked, RunScale.Tiny, CPU);
            Assert.True(setup.Offset.TextCount < 256, $"{setup.Offset.TextCount} text ids");
            Assert.Equal(CodebookRows.FitCount(256, setup.Offset.TextCount), setup.Config.CodebookSize);
            Assert.Equal(setup.Config.CodebookSize, setup.Rows.Ids.Distinct().Count());
            Assert.Equal(setup.Config.CodebookSize, setup.Offset.CodebookSize); // the separate baseline's too
            Assert.Contains("WordNet hidden by KIT_OPTIONAL_DATA=ignore", setup.CodebookNote);
        }
        finally { Environment.SetEnvironmentVariable(KitEnvironment.OptionalData, previous); }
    }

    [Fact]
    public void UnifiedCodebookAtTinyScale()
    {
        var setup = UnifiedCodebookExperiment.Prepare(RunScale.Tiny, 8, CPU);
        var pretrained = setup.LanguageRows.clone();
        Assert.Equal(setup.Config.CodebookSize, setup.Rows.Ids.Distinct().Count());
        Assert.All(setup.Rows.Ids, id => Assert.True(id < setup.Offset.TextCount)); // text ids only
        // The shared layout's start predicts text exactly as the text model does (its softmax never saw the offset code rows).
        var start = setup.StartOf(CodebookParadigm.Frozen, CPU);
        var heldOut = setup.Corpus.HeldOut.Take(8).ToList();
        Assert.Equal(LanguageTraining.Perplexity(setup.Text, setup.Offset, heldOut), LanguageTraining.Perplexity(start, setup.Shared, heldOut), 3);
        var results = new[] { CodebookParadigm.Frozen, CodebookParadigm.LanguageDriven, CodebookParadigm.DualAlternating, CodebookParadigm.Separate }
            .Select(p => UnifiedCodebookExperiment.Train(setup, p, decompression: true, CPU)).ToList();
        Assert.All(results, r => Assert.True(Finite(r.TokenizerMetrics.Psnr) && Finite(r.Scores.Perplexity)));
        // Frozen and language-driven never write the LLM's rows; at r = 1 the language-driven lookup is those rows.
        foreach (var r in results.Take(2))
        {
            var rows = r.Model.Gpt.TokenEmbeddings.index_select(0, tensor(setup.Rows.Ids.Select(i => (long)i).ToArray()));
            Assert.True(rows.eq(pretrained).all().item<bool>(), r.Name);
            Assert.True(r.Tokenizer.Quantizer.Codebook!.Codes().allclose(pretrained), r.Name);
            Assert.Equal(0, r.Drift[^1].Movement, 6);
        }
        // The dual paradigm writes them, and its drift is recorded over the whole run.
        Assert.True(results[2].Drift[^1].Movement > 0);
        Assert.True(results[2].Drift.Count >= 2);
        Assert.Empty(results[3].Drift); // the separate codebook shares no rows
        Assert.Equal(4, UnifiedCodebookExperiment.Table(setup, results).Frame.Rows.Count);
        var stacked = new[] { UnifiedCodebookExperiment.Stacked(setup, 2, StackAggregation.Concat, CPU), UnifiedCodebookExperiment.Stacked(setup, 2, StackAggregation.CumulativeSum, CPU) };
        Assert.All(stacked, r => Assert.Equal(2 * r.LlmPositions, r.Metrics.CodesPerImage));
        Assert.Equal(2 * setup.Text.Gpt.Config.Dim, stacked[0].LatentWidth);
        // The LLM over stacked codes: a given image compressed to one position per 2 codes, asked-for images written in full.
        foreach (var (tokenizer, decompression) in new[] { (stacked[1], true), (stacked[0], false) })
        {
            var llm = UnifiedCodebookExperiment.TrainStacked(setup, tokenizer, decompression, CPU);
            Assert.Equal(2, llm.Model.Config.StackDepth);
            Assert.True(Finite(llm.Scores.Perplexity) && llm.Scores.SampleCaptions.Count > 0);
            Assert.Equal(setup.TestSet.Test.Count, llm.Scores.TextToImage!.Generated.shape[0]); // drawn from all 2·positions codes each
            var accuracy = UnifiedCodebookExperiment.DecompressionAccuracy(setup, llm, CPU);
            Assert.InRange(accuracy.First, 0, 1);
            Assert.InRange(accuracy.Later, 0, 1);
        }
        // Again: everything from the cache, with the same numbers.
        var again = UnifiedCodebookExperiment.Train(setup, CodebookParadigm.DualAlternating, decompression: true, CPU);
        Assert.True(again.FromCache);
        Assert.Equal(results[2].TokenizerMetrics.Psnr, again.TokenizerMetrics.Psnr, 6);
        Assert.Equal(results[2].Drift, again.Drift); // the drift record comes back with the weights, exactly
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

    [Fact]
    public void DynamicTokenizerAtTinyScale()
    {
        var setup = DynamicTokenizerExperiment.Prepare(RunScale.Tiny, 6, CPU);
        var main = DynamicTokenizerExperiment.Train(setup, setup.Config.Tokenizer);
        var scores = DynamicTokenizerExperiment.Evaluate(setup, main, "main");
        Assert.InRange(scores.Selection.TokensMean, 1, 64);
        Assert.True(Finite(scores.FeatureCos) && Finite(scores.Psnr));
        var pooledConfig = setup.Config.Tokenizer with { PooledGrid = DynamicTokenizerExperiment.SameBudgetGrid(scores.Selection.TokensMean, setup.Grid) };
        var pooled = DynamicTokenizerExperiment.Evaluate(setup, DynamicTokenizerExperiment.Train(setup, pooledConfig), "pooled");
        Assert.Equal(pooledConfig.PooledGrid * pooledConfig.PooledGrid, pooled.Selection.TokensMean);
        var spread = DynamicTokenizerExperiment.Spread(setup, main.Tokenizer, Kit.Tokenizers.Dynamic.SelectionMode.Deterministic);
        Assert.Equal(1.0, spread.SameIds);   // deterministic: the same codes every time
        Assert.NotNull(DynamicTokenizerExperiment.RatioTable(setup, new[] { scores, pooled }));
        Assert.Equal(setup.Backbone.Config.Vit.Layers + 1, DynamicTokenizerExperiment.Locality(setup).Frame.Rows.Count);   // one row per depth, 0..L
        var llm = DynamicTokenizerExperiment.TrainLlm(setup, main, "llm");
        Assert.Equal(setup.Config.Llm.TestImages, llm.Result.Scores.TextToImage!.Generated.shape[0]);
        var speed = DynamicTokenizerExperiment.MeasureLlmSpeed(setup, llm.Setup, "main", steps: 2);
        Assert.True(speed.SecondsPerEpoch > 0);
        Assert.Equal(llm.TokensPerImage, speed.TokensPerImage);   // the same encoded images, not encoded again
        // The continuous interfaces read a fixed grid's latents: over dynamic tokens they are refused by name.
        var refused = Assert.Throws<ArgumentException>(() => KitRecipes.TrainUnified(llm.Setup, llm.Result.Model, VisualInterface.Regression, "regression", CPU));
        Assert.Contains("DynamicTokenizer", refused.Message);
        Assert.Equal(1, DynamicTokenizerExperiment.BudgetTable(new[] { (scores, llm) }).Frame.Rows.Count);
        // Again: the tokenizer comes from the cache, with the same scores.
        var again = DynamicTokenizerExperiment.Train(setup, setup.Config.Tokenizer);
        Assert.True(again.FromCache);
        Assert.Equal(scores.FeatureCos, DynamicTokenizerExperiment.Evaluate(setup, again, "again").FeatureCos);
    }

    [Fact]
    public void LexicalAlignmentAtTinyScale()
    {
        var setup = LexicalAlignmentExperiment.Prepare(RunScale.Tiny, 7, CPU);
        Assert.True(setup.Lexicon.Count >= 2);
        var dense = LexicalAlignmentExperiment.TrainDense(setup);
        var runs = new[]
        {
            LexicalAlignmentExperiment.TrainLexical(setup, new LexicalRunConfig()),
            LexicalAlignmentExperiment.TrainLexical(setup, new LexicalRunConfig(Text: Kit.Lexical.TextTarget.BagOfWords, Sparsity: Kit.Lexical.SparsityKind.Flops)),
            LexicalAlignmentExperiment.TrainLexical(setup, new LexicalRunConfig(Backbone: LexicalBackbone.CaptionAligned), dense),
        };
        var scores = runs.Select(r => LexicalAlignmentExperiment.Evaluate(setup, r)).Append(LexicalAlignmentExperiment.Evaluate(setup, dense)).ToList();
        foreach (var s in scores)
        {
            Assert.InRange(s.Retrieval.ImageToText[1], 0, 1);
            Assert.InRange(s.Shapes.MeanIoU, 0, 1);
        }
        Assert.InRange(scores[0].ImageActive.Mean, 0, setup.Lexicon.Count);
        Assert.Equal(setup.Config.TestImages, scores[0].Shapes.Labels.shape[0]);
        Assert.Throws<ArgumentException>(() => LexicalAlignmentExperiment.TrainLexical(setup, new LexicalRunConfig(Backbone: LexicalBackbone.CaptionAligned)));
        Assert.True(LexicalAlignmentExperiment.TrainLexical(setup, new LexicalRunConfig()).FromCache);
    }
}
