// LaVIT's dynamic tokenizer piece by piece: the selector's ratio and modes, gradients through its hard mask, the
// merger's masks (a dropped token reaches a kept one only through cross-attention), the quantizer's mask, the feature
// decoder and its loss, ragged codes there and back, and a tiny training run. Hand-worked values where there are any.
using Kit.Backbones;
using Kit.Core;
using Kit.Data;
using Kit.Tokenizers;
using Kit.Tokenizers.Dynamic;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class DynamicTokenizerTests
{
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    // A tiny random ViT over 16×16 images with 4×4 patches: a 4×4 grid of 16-wide features.
    static VisionTransformer TinyBackbone()
    {
        manual_seed(3);
        var vit = new VisionTransformer(new VitConfig(ImageSize: 16, PatchSize: 4, Dim: 16, Layers: 1, Heads: 2));
        foreach (var p in vit.parameters()) p.requires_grad = false;
        vit.eval();
        return vit;
    }

    static DynamicTokenizer Tiny(VisionTransformer backbone, DynamicTokenizerConfig? config = null)
    {
        manual_seed(4);
        return new DynamicTokenizer(backbone, config ?? new DynamicTokenizerConfig(KeepRatio: 0.5, MergerLayers: 1, DecoderLayers: 1, Heads: 2, CodebookSize: 16, CodeDim: 8));
    }

    [Fact]
    public void WithALargeRatioWeightTheKeptFractionConvergesToTheTarget()
    {
        manual_seed(5);
        using var selector = new TokenSelector(16);
        var optimizer = optim.Adam(selector.parameters(), 0.01);
        var features = randn(32, 20, 16);
        const double rho = 0.25, lambda = 50;
        selector.train();
        for (int step = 0; step < 300; step++)
            using (var _ = NewDisposeScope())
            {
                var keep = selector.Mask(features);
                var loss = lambda * (keep.mean() - rho).pow(2);
                optimizer.zero_grad(); loss.backward(); optimizer.step();
            }
        using var noGrad = no_grad();
        double kept = Enumerable.Range(0, 10).Average(_ => selector.Mask(features).mean().item<float>());
        Assert.InRange(kept, rho - 0.06, rho + 0.06);
    }

    [Fact]
    public void DeterministicSelectionGivesTheSameTokensEveryTimeAndStochasticVaries()
    {
        manual_seed(6);
        using var selector = new TokenSelector(16);
        selector.eval();
        using var noGrad = no_grad();
        var features = randn(8, 30, 16);
        var first = selector.Mask(features, SelectionMode.Deterministic);
        var second = selector.Mask(features, SelectionMode.Deterministic);
        Assert.True(Same(first, second));
        // Deterministic is keep where p(keep) > 0.5, computed here from the log-probabilities themselves.
        var logp = selector.LogProbabilities(features);
        var byHand = logp.select(-1, 0).exp().gt(0.5);
        var anyKept = byHand.any(1, keepdim: true);
        Assert.True(Same(first.gt(0.5).logical_and(anyKept), byHand));
        var draws = Enumerable.Range(0, 5).Select(i => selector.Mask(features, SelectionMode.Stochastic, new Generator((ulong)(10 + i)))).ToList();
        Assert.Contains(draws.Skip(1), d => !Same(d, draws[0]));
        // Every image keeps at least one token, whatever the mode.
        foreach (var d in draws.Append(first)) Assert.True(d.sum(1).ge(1).all().item<bool>());
    }

    [Fact]
    public void GradientsReachTheSelectorThroughTheHardMask()
    {
        using var backbone = TinyBackbone();
        using var tokenizer = Tiny(backbone, new DynamicTokenizerConfig(KeepRatio: 0.5, MergerLayers: 1, DecoderLayers: 1, Heads: 2, CodebookSize: 16, CodeDim: 8, RatioWeight: 0));
        tokenizer.train();
        tokenizer.Quantizing = false;
        manual_seed(7);
        var features = backbone.PatchFeatures(rand(4, 3, 16, 16) * 2 - 1);
        var output = tokenizer.Forward(features);
        Assert.True(output.Keep.eq(0).logical_or(output.Keep.eq(1)).all().item<bool>(), "the mask is hard 0/1 in the forward pass");
        var (loss, _) = tokenizer.Loss(output, features);   // the feature loss alone: λ = 0
        loss.backward();
        double total = tokenizer.Selector.parameters().Sum(p => p.grad is null ? 0 : p.grad.abs().sum().item<float>());
        Assert.True(total > 0, "the reconstruction loss must move the selector, through merger and decoder");
    }

    [Fact]
    public void ADroppedTokenReachesTheKeptOnesOnlyThroughCrossAttention()
    {
        manual_seed(8);
        using var merger = new TokenMerger(16, 2, 2);
        merger.eval();
        using var noGrad = no_grad();
        var features = randn(2, 6, 16);
        var keep = tensor(new float[] { 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1 }, new long[] { 2, 6 });
        var perturbed = features.clone();
        perturbed[0, 1] = perturbed[0, 1] * 10 + 5;   // dropped in image 0
        perturbed[1, 3] = perturbed[1, 3] * -7;       // dropped in image 1
        var kept = keep.gt(0.5).unsqueeze(-1);
        Tensor Kept(Tensor y) => y.masked_select(kept.expand_as(y));
        var without = Kept(merger.Forward(features, keep, crossAttention: false));
        var withoutPerturbed = Kept(merger.Forward(perturbed, keep, crossAttention: false));
        Assert.True(Same(without, withoutPerturbed), "without cross-attention a dropped token changes no kept output, bit for bit");
        var with = Kept(merger.Forward(features, keep));
        var withPerturbed = Kept(merger.Forward(perturbed, keep));
        Assert.False(with.allclose(withPerturbed, rtol: 1e-3, atol: 1e-4), "with cross-attention it does");
    }

    [Fact]
    public void ImagesWithNoDroppedOrNoKeptTokenGiveFiniteOutputs()
    {
        manual_seed(9);
        using var merger = new TokenMerger(16, 2, 2);
        merger.eval();
        using var noGrad = no_grad();
        var features = randn(2, 5, 16);
        var keep = stack(new[] { ones(5), zeros(5) });   // image 0 keeps all (nothing to cross-attend), image 1 none
        var y = merger.Forward(features, keep);
        Assert.True(y.isfinite().all().item<bool>());
        // Image 0 has nothing to cross-attend to: its cross-attention adds exactly nothing, so it equals the merger without it.
        var without = merger.Forward(features, keep, crossAttention: false);
        Assert.True(Same(y[0], without[0]));
    }

    [Fact]
    public void DroppedPositionsDoNotChangeTheCodebook()
    {
        using var backbone = TinyBackbone();
        using var a = Tiny(backbone);
        using var b = Tiny(backbone);
        a.train(); b.train();
        manual_seed(10);
        var features = backbone.PatchFeatures(rand(16, 3, 16, 16) * 2 - 1);
        using var noGrad = no_grad();
        var output = a.Forward(features);
        var keep = output.Keep.gt(0.5);
        Assert.True(keep.logical_not().any().item<bool>() && keep.any().item<bool>());
        // In the tokenizer: a dropped position has no code, and only kept tokens are counted.
        Assert.True(Same(output.Indices!.lt(0), keep.logical_not()));
        Assert.Equal(keep.sum().item<long>(), a.Quantizer.Usage.Counts().Sum());
        // Its quantizer under that mask: lookups that differ only at the dropped positions leave every buffer (codes, EMA
        // sizes and sums) and the usage counts bitwise equal. b starts from a's state so both k-means runs see the same seed.
        b.load_state_dict(a.state_dict());
        a.Quantizer.ResetUsage(); b.Quantizer.ResetUsage();
        var za = nn.functional.normalize(randn(16, 16, 8), dim: -1);
        var zb = where(keep.unsqueeze(-1), za, za * 50 + 2);
        manual_seed(12); a.Quantizer.Quantize(za, keep);
        manual_seed(12); b.Quantizer.Quantize(zb, keep);
        foreach (var ((name, x), (_, y)) in a.Quantizer.named_buffers().Zip(b.Quantizer.named_buffers()))
            Assert.True(Same(x, y), $"{name} differs");
        Assert.Equal(a.Quantizer.Usage.Counts(), b.Quantizer.Usage.Counts());
    }

    [Fact]
    public void TheDecoderRebuildsEveryPatchAndItsLossIsZeroOnlyForTheTarget()
    {
        manual_seed(13);
        using var decoder = new FeatureDecoder(patches: 9, dim: 12, codeDim: 4, layers: 1, heads: 2);
        var codes = randn(3, 9, 4);
        var keep = (rand(3, 9) > 0.5).to(float32);
        keep[0, 0] = 1;
        Assert.Equal(new long[] { 3, 9, 12 }, decoder.Forward(codes, keep).shape);
        var x = randn(3, 9, 12);
        Assert.Equal(0.0, FeatureDecoder.Loss(x, x).item<float>(), 5);
        Assert.Equal(2.0, FeatureDecoder.Loss(-x, x).item<float>(), 5);      // cos = −1 everywhere
        // Orthogonal everywhere: cos = 0, loss 1 (e1 against e2).
        var e1 = zeros(1, 1, 12); e1[0, 0, 0] = 1;
        var e2 = zeros(1, 1, 12); e2[0, 0, 1] = 3;
        Assert.Equal(1.0, FeatureDecoder.Loss(e1, e2).item<float>(), 5);
        // The kept order: kept positions first, in patch order; valid marks as many slots as were kept.
        var (order, valid) = FeatureDecoder.KeptOrder(tensor(new float[] { 0, 1, 0, 1, 1 }).unsqueeze(0));
        Assert.Equal(new long[] { 1, 3, 4 }, order[0].narrow(0, 0, 3).data<long>().ToArray());
        Assert.Equal(new[] { true, true, true, false, false }, valid[0].data<bool>().ToArray());
    }

    [Fact]
    public void RaggedCodesGoThereAndBack()
    {
        using var backbone = TinyBackbone();
        using var tokenizer = Tiny(backbone);
        tokenizer.eval();
        manual_seed(14);
        var images = rand(6, 3, 16, 16) * 2 - 1;
        using var noGrad = no_grad();
        var features = backbone.PatchFeatures(images);
        var output = tokenizer.Forward(features);
        using var codes = tokenizer.EncodeTokens(images);
        var kept = output.Keep.sum(1).to(int64).data<long>().ToArray();
        Assert.Equal(kept, codes.Lengths);
        // Each row is the kept positions' indices in patch order.
        var indices = output.Indices!;
        var rows = codes.Rows();
        for (int i = 0; i < rows.Length; i++)
            Assert.Equal(indices[i].masked_select(indices[i].ge(0)).data<long>().ToArray(), rows[i]);
        // Decoding the rows (padded to the longest) gives the forward pass's reconstruction.
        var decoded = tokenizer.DecodeFeatures(VisualCodes.FromRows(rows));
        Assert.True(decoded.allclose(output.Reconstructed, rtol: 1e-4, atol: 1e-5));
        Assert.Throws<ArgumentException>(() => tokenizer.DecodeFeatures(VisualCodes.FromRows(new[] { Enumerable.Repeat(0L, 17).ToArray() })));
    }

    [Fact]
    public void APooledGridIsAFixedLengthTokenizerOfGSquaredCodes()
    {
        using var backbone = TinyBackbone();
        using var tokenizer = Tiny(backbone, new DynamicTokenizerConfig(PooledGrid: 2, MergerLayers: 1, DecoderLayers: 1, Heads: 2, CodebookSize: 16, CodeDim: 8));
        tokenizer.eval();
        Assert.Equal(4, tokenizer.MinCodesPerImage);
        Assert.Equal(4, tokenizer.MaxCodesPerImage);
        manual_seed(15);
        var features = randn(2, 16, 16);
        // The pooled tokens are the means of the 2×2 blocks of the 4×4 grid, computed here by hand for the top-left block.
        var pooled = tokenizer.Tokens(features);
        var byHand = features.index_select(1, tensor(new long[] { 0, 1, 4, 5 })).mean(new long[] { 1 });
        Assert.True(pooled[.., 0].allclose(byHand, rtol: 1e-5, atol: 1e-6));
        Assert.Throws<ArgumentException>(() => new DynamicTokenizerConfig(PooledGrid: 5).Validate(4));
        Assert.Throws<ArgumentException>(() => new DynamicTokenizerConfig(KeepRatio: 0).Validate(4));
    }

    [Fact]
    public void ATinyTrainingRunLowersTheLoss()
    {
        using var backbone = TinyBackbone();
        using var tokenizer = Tiny(backbone);
        manual_seed(16);
        var features = backbone.PatchFeatures(rand(64, 3, 16, 16) * 2 - 1);
        var log = DynamicTokenizerTraining.Train(tokenizer, new DynamicTrainingConfig(FeatureSteps: 40, QuantizedSteps: 20, BatchSize: 16, LearningRate: 3e-3, TrainImages: 64), features, CPU);
        var feature = log.Metric("feature");
        Assert.True(feature.Take(3).Average() > feature.Skip(feature.Count - 3).Average() + 0.01,
            $"feature loss {feature.First():0.000} → {feature.Last():0.000}");
        Assert.True(log.Rows.Select(r => r.Step).SequenceEqual(log.Rows.Select(r => r.Step).Order()), "phase 2's steps follow phase 1's");
    }

    [Fact]
    public void SelectionScoresAgainstHandWorkedMasks()
    {
        Assert.Equal(1.0, SelectionMetrics.IoU(new[] { true, false, true }, new[] { true, false, true }));
        Assert.Equal(1.0 / 3, SelectionMetrics.IoU(new[] { true, true, false }, new[] { true, false, true }), 10);
        var scene = new ShapesScene(new[] { new ShapeObject(ShapeKind.Circle, ShapeColour.Red, ShapeSize.Small, 0, 0) });
        // Foreground everywhere: any mask of k of n patches has IoU k / n, so chance is exactly the kept share.
        var keep = tensor(new[] { true, true, false, false, false, false, false, false }).unsqueeze(0);
        var fore = ones(1, 8, dtype: @bool);
        var s = SelectionMetrics.Score(keep, fore, new[] { scene });
        Assert.Equal(0.25, s.ForegroundIoU, 10);
        Assert.Equal(0.25, s.ChanceIoU, 10);
        Assert.Equal(2.0, s.TokensMean);
        Assert.Equal(0.25, s.ForegroundKept, 10);
        Assert.Equal(2.0, s.TokensByObjects[1]);
    }

    [Fact]
    public void APooledGridStandsForEveryPatchAndCountsItsOwnTokens()
    {
        using var vit = TinyBackbone();
        using var pooled = Tiny(vit, new DynamicTokenizerConfig(PooledGrid: 2, MergerLayers: 1, DecoderLayers: 1, Heads: 2, CodebookSize: 16, CodeDim: 8));
        using var selecting = Tiny(vit);
        var features = vit.PatchFeatures(rand(3, 3, 16, 16) * 2 - 1);
        using var noGrad = no_grad();
        var pooledKeep = pooled.Forward(features).Keep;                     // [3, 4]: the grid's four tokens, all kept
        Assert.Equal(new long[] { 3, 4 }, pooledKeep.shape);
        Assert.True(pooled.PatchKeep(pooledKeep).all().item<bool>());       // [3, 16]: every patch is pooled into a token
        Assert.Equal(new long[] { 3, 16 }, pooled.PatchKeep(pooledKeep).shape);
        var keep = selecting.Forward(features).Keep;
        Assert.True(selecting.PatchKeep(keep).equal(keep.gt(0.5)).all().item<bool>());
        // Scored with its token counts, a pooled grid has g² tokens per image while its patches cover the whole foreground.
        var scenes = Enumerable.Repeat(new ShapesScene(new[] { new ShapeObject(ShapeKind.Circle, ShapeColour.Red, ShapeSize.Small, 0, 0) }), 3).ToList();
        var fore = zeros(3, 16, dtype: @bool);
        fore[TensorIndex.Colon, 0] = tensor(true);
        var s = SelectionMetrics.Score(pooled.PatchKeep(pooledKeep), fore, scenes, tokens: pooledKeep.gt(0.5).sum(1));
        Assert.Equal(4.0, s.TokensMean);
        Assert.Equal(0.0, s.TokensStd);
        Assert.Equal(4.0, s.TokensByObjects[1]);
        Assert.Equal(1.0, s.ForegroundKept);
        Assert.Equal(1.0 / 16, s.ForegroundIoU, 10);
    }

    [Fact]
    public void ABackboneReadAtDepthZeroIsItsNormalisedEmbedding()
    {
        using var vit = TinyBackbone();
        using var images = rand(2, 3, 16, 16) * 2 - 1;
        var embedded = vit.Embed(images);
        // LayerNorm by hand: each token centred and scaled to unit variance (the norm's weights start at 1 and 0).
        var mean = embedded.mean(new long[] { -1 }, keepdim: true);
        var variance = (embedded - mean).square().mean(new long[] { -1 }, keepdim: true);
        var byHand = (embedded - mean) / (variance + 1e-5).sqrt();
        Assert.True(vit.AtDepth(0).PatchFeatures(images).allclose(byHand, rtol: 1e-4, atol: 1e-5));
        Assert.Same(vit, vit.AtDepth(1));                        // the full depth is the backbone itself
        Assert.True(Same(vit.AtDepth(1).PatchFeatures(images), vit.PatchFeatures(images)));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => vit.AtDepth(2));
        Assert.Contains("0..1", error.Message);
    }

    [Fact]
    public void ANarrowerStreamStillRebuildsEveryFeatureAtTheBackbonesWidth()
    {
        using var vit = TinyBackbone();
        using var tokenizer = Tiny(vit, new DynamicTokenizerConfig(KeepRatio: 0.5, MergerLayers: 1, DecoderLayers: 1, Heads: 2, CodebookSize: 16, CodeDim: 8, Width: 8));
        using var features = vit.PatchFeatures(rand(3, 3, 16, 16) * 2 - 1);
        var output = tokenizer.Forward(features);
        Assert.Equal(new long[] { 3, 16, 16 }, output.Reconstructed.shape);
        Assert.Equal(new long[] { 3, 2, 16, 16 }, tokenizer.MergerCrossWeights(features, output.Keep).shape);
        Assert.Throws<ArgumentException>(() => new DynamicTokenizerConfig(Width: 6, Heads: 4).Validate(4));
    }
}
