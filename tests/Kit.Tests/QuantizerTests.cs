// Quantizers checked against brute force, hand-worked cases and the naive formulas they shortcut.
using Kit.Quantizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public class QuantizerTests
{
    static double[] Row(Tensor t, int i) => t[i].to(float64).data<double>().ToArray();

    [Theory]
    [InlineData(CodeDistance.L2)]
    [InlineData(CodeDistance.Cosine)]
    public void NearestCodeMatchesBruteForce(CodeDistance distance)
    {
        manual_seed(1);
        using var vq = new VectorQuantizer(6, 37, distance: distance);
        using var z = randn(200, 6);
        var found = vq.Nearest(z).data<long>().ToArray();
        var codes = vq.Codes;
        for (int m = 0; m < 200; m++)
        {
            var x = Row(z, m);
            if (distance == CodeDistance.Cosine) { var n = Math.Sqrt(x.Sum(v => v * v)); x = x.Select(v => v / n).ToArray(); }
            int best = -1; double bestScore = double.MaxValue;
            for (int k = 0; k < 37; k++)
            {
                var e = Row(codes, k);
                double score = distance == CodeDistance.L2 ? x.Zip(e, (a, b) => (a - b) * (a - b)).Sum() : -x.Zip(e, (a, b) => a * b).Sum();
                if (score < bestScore) { bestScore = score; best = k; }
            }
            Assert.Equal(best, found[m]);
        }
    }

    [Fact]
    public void LfqIndexOfHandWorkedVectors()
    {
        using var z = tensor(new float[] { -1.4f, 8.7f, -4.2f, /**/ 1, 1, 1, /**/ -1, -1, -1, /**/ 0, 0.5f, 0 }, new long[] { 1, 4, 3 });
        using var lfq = new LookupFreeQuantizer(3, entropyWeight: 0);
        var r = lfq.forward(z);
        Assert.Equal(new long[] { 2, 7, 0, 2 }, r.Indices.data<long>().ToArray()); // LSB first; 0 counts as negative
        Assert.Equal(new float[] { -1, 1, -1, 1, 1, 1, -1, -1, -1, -1, 1, -1 }, r.Quantized.data<float>().ToArray());
    }

    [Fact]
    public void IndexAndBitsRoundTrip()
    {
        using var all = arange(1L << 10);
        using var bits = LookupFreeQuantizer.IndexToBits(all, 10);
        Assert.True(LookupFreeQuantizer.BitsToIndex(bits.eq(1)).eq(all).all().item<bool>());
        Assert.Equal(new long[] { 0, 1, 0, 1, 1, 0, 0, 0, 0, 0 }, bits[26].data<long>().ToArray()); // 26 = 2 + 8 + 16
        using var big = randint(1L << 18, new long[] { 1000 });
        var parts = LookupFreeQuantizer.Factorize(big, new[] { 6, 12 });
        Assert.True(LookupFreeQuantizer.Combine(parts, new[] { 6, 12 }).eq(big).all().item<bool>());
        var hand = LookupFreeQuantizer.Factorize(tensor(new long[] { (5L << 6) + 3 }), new[] { 6, 12 });
        Assert.Equal(3, hand[0].item<long>());
        Assert.Equal(5, hand[1].item<long>());
    }

    // The definition: p(c|z) = softmax over all 2^bits codes c ∈ {−s, +s}^bits of −‖z − c‖²/τ.
    static (double Sample, double Codebook) NaiveEntropies(double[][] z, int bits, double tau, double scale)
    {
        int k = 1 << bits;
        var mean = new double[k];
        double sample = 0;
        foreach (var row in z)
        {
            var logits = new double[k];
            for (int c = 0; c < k; c++)
            {
                double d = 0;
                for (int i = 0; i < bits; i++) { double ci = ((c >> i) & 1) == 1 ? scale : -scale; d += (row[i] - ci) * (row[i] - ci); }
                logits[c] = -d / tau;
            }
            double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
            for (int c = 0; c < k; c++)
            {
                double p = Math.Exp(logits[c] - max) / sum;
                if (p > 0) sample -= p * Math.Log(p);
                mean[c] += p / z.Length;
            }
        }
        return (sample / z.Length, -mean.Where(p => p > 0).Sum(p => p * Math.Log(p)));
    }

    [Theory]
    [InlineData(4, 1.0, false)]
    [InlineData(8, 0.5, false)]
    [InlineData(12, 2.0, false)]
    [InlineData(6, 0.05, true)]
    [InlineData(9, 0.7, false)]   // halves of 4 and 5 bits
    [InlineData(1, 1.0, false)]   // halves of 0 and 1 bit
    public void FactorizedEntropyEqualsTheNaiveSoftmax(int bits, double tau, bool spherical)
    {
        manual_seed(bits);
        using var z = randn(24, bits, dtype: float64) * 0.7;
        using var lfq = new LookupFreeQuantizer(bits, temperature: tau, groupBits: bits, spherical: spherical);
        var zUsed = spherical ? nn.functional.normalize(z, dim: 1) : z;
        var (sample, codebook) = lfq.Entropies(zUsed);
        var rows = Enumerable.Range(0, 24).Select(i => Row(zUsed, i)).ToArray();
        var naive = NaiveEntropies(rows, bits, tau, lfq.CodeScale);
        Assert.Equal(naive.Sample, sample.item<double>(), 1e-5);
        Assert.Equal(naive.Codebook, codebook.item<double>(), 1e-5);
    }

    [Fact]
    public void TheCodebookEntropysGradientEqualsTheOneThroughEveryCodesProbability()
    {
        // The kit forms a group's batch-mean distribution from its two halves; the plain way forms p(c|z) for all 2^g
        // codes at once. Both are the same function of z, so their gradients must agree.
        manual_seed(9);
        using var lfq = new LookupFreeQuantizer(9, temperature: 0.7, groupBits: 9);
        var z = (randn(32, 9, dtype: float64) * 0.5).requires_grad_();
        lfq.Entropies(z).Codebook.backward();
        var kit = z.grad!.clone();
        var y = z.detach().clone().requires_grad_();
        var logits = y * (4 * lfq.CodeScale / 0.7);
        var (logP, logQ) = (nn.functional.logsigmoid(logits), nn.functional.logsigmoid(-logits));
        var bits = LookupFreeQuantizer.IndexToBits(arange(512), 9).to(float64);
        var mean = ((logP - logQ).matmul(bits.t()) + logQ.sum(1, keepdim: true)).exp().mean(new long[] { 0 });
        (-(mean * (mean + 1e-12).log()).sum()).backward();
        Assert.True(kit.allclose(y.grad!, rtol: 1e-6, atol: 1e-9), $"largest difference {(kit - y.grad!).abs().max().item<double>()}");
    }

    [Theory]
    [InlineData(10)]   // exact: halves of 5 and 5 bits
    [InlineData(5)]    // two groups of 5 bits
    public void EntropiesAtTheRecipesTemperatureMatchFloat64InValueAndGradient(int group)
    {
        // At τ = 0.01 bit logits are in the hundreds, where the kit bounds logits and floors code log-probabilities to
        // stay in float32's normal range. In float32 the values must still be the naive softmax's in float64 (a
        // group's marginal over its codes is the softmax over its own bits), and the gradient the unbounded formula's
        // in float64.
        manual_seed(group);
        using var scope = NewDisposeScope();
        var z64 = randn(64, 10, dtype: float64);
        using var lfq = new LookupFreeQuantizer(10, temperature: 0.01, groupBits: group);
        var z = z64.to(float32).requires_grad_();
        var (sample, codebook) = lfq.Entropies(z);
        var rows = Enumerable.Range(0, 64).Select(i => Row(z64, i)).ToArray();
        double naiveCodebook = 0;
        for (int start = 0; start < 10; start += group)
            naiveCodebook += NaiveEntropies(rows.Select(r => r.Skip(start).Take(group).ToArray()).ToArray(), group, 0.01, 1).Codebook;
        Assert.Equal(NaiveEntropies(rows, 10, 0.01, 1).Sample, sample.item<float>(), 1e-5);
        Assert.Equal(naiveCodebook, codebook.item<float>(), 1e-4);

        (sample - codebook).backward();
        var y = z64.clone().requires_grad_();
        var logits = y * 400;
        var (logP, logQ) = (nn.functional.logsigmoid(logits), nn.functional.logsigmoid(-logits));
        var reference = -(logP.exp() * logP + logQ.exp() * logQ).sum(1).mean();
        for (int start = 0; start < 10; start += group)
        {
            var bits = LookupFreeQuantizer.IndexToBits(arange(1L << group), group).to(float64);
            var (p, q) = (logP.narrow(1, start, group), logQ.narrow(1, start, group));
            var mean = ((p - q).matmul(bits.t()) + q.sum(1, keepdim: true)).exp().mean(new long[] { 0 });
            reference = reference + (mean * (mean + 1e-12).log()).sum();
        }
        reference.backward();
        double largest = (z.grad!.to(float64) - y.grad!).abs().max().item<double>(), scale = y.grad!.abs().max().item<double>();
        Assert.True(largest <= 1e-4 * scale, $"largest gradient difference {largest} against a largest gradient of {scale}");
    }

    [Fact]
    public void GroupedCodebookEntropyBoundsTheExactOne()
    {
        manual_seed(3);
        using var z = randn(64, 10, dtype: float64) * 0.3;
        double Codebook(int group) { using var q = new LookupFreeQuantizer(10, temperature: 1.0, groupBits: group); return q.Entropies(z).Codebook.item<double>(); }
        double exact = Codebook(10), two = Codebook(5), ten = Codebook(1);
        Assert.True(exact <= two + 1e-9 && two <= ten + 1e-9, $"exact {exact} ≤ 2 groups {two} ≤ 10 groups {ten}");
        Assert.True(ten <= 10 * Math.Log(2) + 1e-9);
    }

    [Fact]
    public void LargeVocabularyEntropyRunsGrouped()
    {
        using var lfq = new LookupFreeQuantizer(18);
        Assert.Equal(9, lfq.GroupBits);
        using var scope = NewDisposeScope();
        var (sample, codebook) = lfq.Entropies(randn(4096, 18));
        Assert.InRange(sample.item<float>(), 0, 18 * Math.Log(2));
        Assert.InRange(codebook.item<float>(), 0, 18 * Math.Log(2) + 1e-4);
    }

    [Fact]
    public void EmaUpdateOfAHandMadeBatch()
    {
        using var vq = new VectorQuantizer(2, 2, decay: 0.75, epsilon: 1e-9); // γ ≠ 1 − γ, so swapping them shows
        using (no_grad())
        {
            var init = tensor(new float[] { 1, 0, -1, 0 }, new long[] { 2, 2 });
            vq.state_dict()["codebook.embed"].copy_(init);
            vq.state_dict()["codebook.embed_sum"].copy_(init);
        }
        vq.train();
        using var z = tensor(new float[] { 1, 0, 1, 0.2f, -1, 0 }, new long[] { 1, 3, 2 });
        vq.forward(z);
        // cluster sizes: 0.75·1 + 0.25·2 = 1.25 and 0.75·1 + 0.25·1 = 1; sums: 0.75·(1,0) + 0.25·(2,0.2) = (1.25, 0.05) and (−1, 0).
        Assert.Equal(new[] { 1.25f, 1f }, vq.state_dict()["codebook.cluster_size"].data<float>().ToArray());
        var embed = vq.state_dict()["codebook.embed"].data<float>().ToArray();
        Assert.Equal(1.0, embed[0], 4);
        Assert.Equal(0.05 / 1.25, embed[1], 4);
        Assert.Equal(-1.0, embed[2], 4);
        Assert.Equal(0.0, embed[3], 4);
    }

    [Fact]
    public void AGradientCodebookLearnsFromTheCodebookLoss()
    {
        manual_seed(6);
        using var vq = new VectorQuantizer(4, 8, update: CodebookUpdate.Gradient);
        Assert.Single(vq.parameters());                      // the codebook is a trainable parameter ...
        Assert.DoesNotContain("codebook.embed", vq.named_buffers().Select(b => b.name)); // ... not an EMA buffer
        using var before = vq.Codes.detach().clone();
        var optimizer = optim.SGD(vq.parameters(), 0.5);
        using var z = randn(1, 32, 4);
        var r = vq.forward(z);
        r.AuxLoss.backward();
        optimizer.step();
        var used = r.Indices.unique().output.data<long>().ToArray();
        var moved = used.Select(k => (vq.Codes[k] - before[k]).norm().item<float>()).ToList();
        Assert.All(moved, m => Assert.True(m > 0, "every used code moves towards its features"));
        Assert.True(r.Parts.ContainsKey("codebook"));
    }

    [Fact]
    public void StraightThroughGradientIsTheIdentity()
    {
        foreach (Quantizer q in new Quantizer[] { new VectorQuantizer(4, 16), new LookupFreeQuantizer(4, entropyWeight: 0), new FiniteScalarQuantizer(new[] { 100001, 100001, 100001, 100001 }) })
        {
            using var z = (randn(2, 4, 3, 3) * 0.01).requires_grad_();
            var r = q.forward(z);
            r.Quantized.sum().backward();
            if (q is FiniteScalarQuantizer)
                Assert.True(z.grad!.gt(0).all().item<bool>(), "FSQ passes gradients through its bounding function"); // tanh', not 1
            else
                Assert.True(z.grad!.eq(1).all().item<bool>(), $"{q.GetType().Name}: gradient should pass unchanged");
        }
    }

    [Fact]
    public void RotationTrickKeepsTheValueAndRotatesTheGradient()
    {
        manual_seed(5);
        using var z = randn(8, 5, dtype: float64).requires_grad_();
        using var codes = randn(8, 5, dtype: float64);
        var out_ = VectorQuantizer.RotationTrick(z, codes);
        Assert.True(out_.allclose(codes, 1e-9, 1e-9));
        using var upstream = randn(8, 5, dtype: float64);
        (out_ * upstream).sum().backward();
        // A rotation keeps lengths, so the gradient's norm is the upstream norm times ‖code‖/‖z‖.
        for (int i = 0; i < 8; i++)
        {
            double expected = upstream[i].norm().item<double>() * codes[i].norm().item<double>() / z[i].norm().item<double>();
            Assert.Equal(expected, z.grad![i].norm().item<double>(), 9);
        }
        Assert.False(z.grad!.allclose(upstream));
    }

    [Fact]
    public void CumulativeSumErrorDoesNotGrowWithDepth()
    {
        manual_seed(7);
        using var rq = new ResidualQuantizer(8, 4, StackAggregation.CumulativeSum, d => new VectorQuantizer(d, 32, kmeansInit: true));
        using var z = randn(1, 2000, 8);
        rq.train();
        var r = rq.forward(z);  // k-means initialises each layer on the residual it sees
        rq.eval();
        var indices = rq.forward(z).Indices;
        var errors = Enumerable.Range(1, 4).Select(d => (rq.LookupPrefix(indices, d) - z.reshape(-1, 8)).pow(2).mean().item<float>()).ToList();
        for (int d = 1; d < 4; d++) Assert.True(errors[d] <= errors[d - 1] + 1e-6, $"error with {d + 1} layers {errors[d]} > with {d} {errors[d - 1]}");
        Assert.True(errors[3] < errors[0] * 0.9, "four layers should reconstruct clearly better than one");
        Assert.Equal(new long[] { 1, 2000, 4 }, indices.shape);
    }

    [Fact]
    public void LookupReproducesTheQuantizedFeatures()
    {
        manual_seed(11);
        var quantizers = new Quantizer[]
        {
            new VectorQuantizer(8, 64, codeDim: 4, distance: CodeDistance.Cosine),
            new LookupFreeQuantizer(8),
            new FiniteScalarQuantizer(new[] { 8, 5, 5 }),
            new ResidualQuantizer(8, 2, StackAggregation.Concat, d => new VectorQuantizer(d, 16)),
            new ResidualQuantizer(8, 3, StackAggregation.CumulativeSum, d => new VectorQuantizer(d, 16), sharedCodebook: true),
            new TwoLevelQuantizer(8, StackAggregation.CumulativeSum, d => new VectorQuantizer(d, 16)),
            new TwoLevelQuantizer(8, StackAggregation.Concat, d => new LookupFreeQuantizer(d)),
        };
        foreach (var q in quantizers)
        {
            q.eval();
            using var scope = NewDisposeScope();
            var z = randn(2, q.Dim, 4, 4);
            var r = q.forward(z);
            Assert.True(q.Lookup(r.Indices).allclose(r.Quantized, 1e-5, 1e-5), $"{q.GetType().Name}: Lookup(indices) differs from the quantized features");
            Assert.Equal(z.shape, r.Quantized.shape);
        }
    }

    [Fact]
    public void FsqCodebookIsTheProductOfLevels()
    {
        using var fsq = new FiniteScalarQuantizer(new[] { 3, 4 });
        Assert.Equal(12, fsq.CodebookSize);
        using var all = arange(12);
        var codes = fsq.Lookup(all.reshape(1, 12)); // [1, 12, 2]
        var distinct = Enumerable.Range(0, 12).Select(i => string.Join(",", codes[0, i].data<float>().ToArray())).Distinct().Count();
        Assert.Equal(12, distinct);
        using var big = tensor(new float[] { 50, 50, -50, -50 }, new long[] { 1, 2, 2 });
        var r = fsq.forward(big);
        Assert.Equal(new long[] { 11, 0 }, r.Indices.data<long>().ToArray()); // top levels: 2 + 3·3; bottom: 0
    }

    [Fact]
    public void DeadCodesAreReplacedByBatchFeatures()
    {
        manual_seed(2);
        using var vq = new VectorQuantizer(3, 50, decay: 0.5, deadCodeThreshold: 0.8);
        vq.train();
        using var z = randn(1, 64, 3) * 0.01 + 5; // far from every random code: most codes go unused
        vq.forward(z);
        var sizes = vq.state_dict()["codebook.cluster_size"];
        Assert.True(sizes.ge(0.8 - 1e-6).all().item<bool>());
        // every code that was replaced now sits on one of the batch's features
        var codebook = vq.Codes;
        int onBatch = Enumerable.Range(0, 50).Count(k => (z.reshape(-1, 3) - codebook[k]).pow(2).sum(1).min().item<float>() < 1e-8);
        Assert.True(onBatch >= 45, $"only {onBatch} of 50 codes moved onto batch features");
    }

    [Fact]
    public void UsageStatisticsOfAHistogram()
    {
        var s = CodeUsage.StatsOf(new long[] { 2, 2, 0, 0 });
        Assert.Equal(0.5, s.Usage);
        Assert.Equal(2.0, s.Perplexity, 9);
        Assert.Equal(0.5, s.DeadShare);
        using var lfq = new LookupFreeQuantizer(2, entropyWeight: 0);
        lfq.forward(tensor(new float[] { 1, 1, -1, -1, 1, 1 }, new long[] { 1, 3, 2 }));
        Assert.Equal(new long[] { 1, 0, 0, 2 }, lfq.Usage.Counts());
    }

    [Fact]
    public void UsageSurvivesTheDisposeScopesOfTrainingSteps()
    {
        using var vq = new VectorQuantizer(2, 4);
        for (int step = 0; step < 3; step++)
            Kit.Core.Scopes.Run(() => vq.forward(randn(1, 10, 2)));
        Assert.Equal(30, vq.Usage.Counts().Sum());
    }

    public static IEnumerable<object[]> NotebookVariants()
    {
        var plain = new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 64);
        var remedies = plain with { KmeansInit = true, DeadCodeThreshold = 2 };
        yield return new object[] { plain };
        yield return new object[] { remedies };
        yield return new object[] { plain with { Update = CodebookUpdate.Gradient } };
        yield return new object[] { plain with { Distance = CodeDistance.Cosine } };
        yield return new object[] { remedies with { Distance = CodeDistance.Cosine, CodeDim = 4, KmeansInit = false } };
        yield return new object[] { plain with { Estimator = GradientEstimator.Rotation } };
        yield return new object[] { new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 8) };
        yield return new object[] { new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 8, EntropyWeight: 0, Spherical: true) };
        yield return new object[] { new QuantizerSpec(Kind: QuantizerKind.Fsq, Levels: new[] { 8, 5, 5, 5 }) };
        foreach (var aggregation in new[] { StackAggregation.Concat, StackAggregation.CumulativeSum })
        {
            yield return new object[] { remedies with { Kind = QuantizerKind.Stacked, Depth = 4, Aggregation = aggregation } };
            yield return new object[] { remedies with { Kind = QuantizerKind.TwoLevel, Aggregation = aggregation } };
        }
    }

    [Theory]
    [MemberData(nameof(NotebookVariants))]
    public void EveryNotebookVariantTrains(QuantizerSpec spec)
    {
        manual_seed(12);
        int dim = spec.RequiredDim ?? 16;
        using var q = spec.Build(dim);
        q.train();
        for (int step = 0; step < 3; step++)
            Kit.Core.Scopes.Run(() =>
            {
                var z = randn(4, dim, 8, 8).requires_grad_();
                var r = q.forward(z);
                (r.Quantized.pow(2).mean() + r.AuxLoss).backward();
                Assert.False(r.Quantized.isnan().any().item<bool>(), spec.Describe());
                Assert.NotNull(z.grad);
            });
        Assert.InRange(q.Stats().Usage, 1e-9, 1);
    }

    [Fact]
    public void ASpecFieldItsKindDoesNotReadIsAnErrorNamingIt()
    {
        var codes = Assert.Throws<ArgumentException>(() => new QuantizerSpec(Kind: QuantizerKind.Lfq, CodebookSize: 1000).Build(8));
        Assert.Contains("does not use CodebookSize=1000", codes.Message);
        Assert.Equal("CodebookSize", codes.ParamName);
        var bits = Assert.Throws<ArgumentException>(() => new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 10).Build(16));
        Assert.Contains("Bits=10", bits.Message);
        Assert.Contains("dim=16", bits.Message);
        var layer = Assert.Throws<ArgumentException>(() => new QuantizerSpec(Kind: QuantizerKind.Stacked, Depth: 2, Bits: 6).Build(16));   // VQ layers read no Bits
        Assert.Contains("of Vq layers spec does not use Bits=6", layer.Message);
        Assert.Throws<ArgumentException>(() => new QuantizerSpec(Kind: QuantizerKind.Vq, Levels: new[] { 8, 5 }).Build(16));
        // What each kind reads builds: LFQ layers with their bits, VQ with its own fields.
        using var stacked = new QuantizerSpec(Kind: QuantizerKind.Stacked, Depth: 2, LayerKind: QuantizerKind.Lfq, Bits: 6).Build(12);
        using var vq = new QuantizerSpec(CodebookSize: 32, KmeansInit: true, CommitmentWeight: 0.5).Build(8);
    }

    [Fact]
    public void WrongShapesAreClearErrors()
    {
        using var vq = new VectorQuantizer(8, 16);
        var e = Assert.Throws<ArgumentException>(() => vq.forward(zeros(2, 7, 4, 4)));
        Assert.Contains("expects [B, 8, H, W]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LookupFreeQuantizer(31));
        Assert.Throws<ArgumentException>(() => new ResidualQuantizer(10, 3, StackAggregation.Concat, d => new VectorQuantizer(d, 8)));
    }
}

public sealed class CodebookTests
{
    static Dictionary<string, float[]> State(nn.Module m) => m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());

    [Fact]
    public void AMaskedPositionChangesNeitherTheCodebookNorItsStatisticsNorTheUsage()
    {
        // The same EMA quantizer twice: once given only the kept rows, once given every row with the others masked out.
        // Every buffer and the usage counts must come out bitwise equal, whatever the masked rows hold.
        manual_seed(11);
        var features = randn(1, 6, 4);
        var mask = tensor(new[] { true, false, true, true, false, true }).unsqueeze(0);
        var masked = features.clone();
        masked[0, 1] = masked[0, 1] * 50 + 3; // a dropped token far from everything
        var keptRows = features.index_select(1, tensor(new long[] { 0, 2, 3, 5 }));
        manual_seed(12);
        using var alone = new VectorQuantizer(4, 8, kmeansInit: true, deadCodeThreshold: 0.5);
        manual_seed(12);
        using var withMask = new VectorQuantizer(4, 8, kmeansInit: true, deadCodeThreshold: 0.5);
        alone.train(); withMask.train();
        for (int step = 0; step < 3; step++)
        {
            manual_seed(100 + step); var a = alone.forward(keptRows);
            manual_seed(100 + step); var b = withMask.Quantize(masked, mask);
            Assert.Equal(a.Indices.data<long>().ToArray(), b.Indices.index_select(1, tensor(new long[] { 0, 2, 3, 5 })).data<long>().ToArray());
            Assert.Equal(new long[] { -1, -1 }, b.Indices.index_select(1, tensor(new long[] { 1, 4 })).data<long>().ToArray());
            Assert.Equal(a.AuxLoss.item<float>(), b.AuxLoss.item<float>());
            Assert.True(b.Quantized[0, 1].eq(masked[0, 1]).all().item<bool>(), "a masked position passes through unchanged");
        }
        var (sa, sb) = (State(alone), State(withMask));
        foreach (var name in sa.Keys) Assert.Equal(sa[name], sb[name]);
        Assert.Equal(alone.Usage.Counts(), withMask.Usage.Counts());
    }

    [Fact]
    public void AnExternalCodebookReadsTheTablesCurrentRowsAndAFrozenOneNeverWritesIt()
    {
        using var table = nn.Parameter(tensor(new float[] { 1, 0, 0, 1, -1, 0, 0, -1 }, new long[] { 4, 2 }));
        using var vq = new VectorQuantizer(2, new ExternalCodebook(() => table));
        var z = tensor(new float[] { 0.9f, 0.1f, 0.2f, 0.8f }, new long[] { 1, 2, 2 });
        Assert.Equal(new long[] { 0, 1 }, vq.forward(z).Indices.data<long>().ToArray());
        using (no_grad()) table[2] = tensor(new float[] { 0.2f, 0.8f }); // the table changes under the codebook ...
        Assert.Equal(new long[] { 0, 2 }, vq.forward(z).Indices.data<long>().ToArray()); // ... and so does the quantization

        var before = table.detach().clone();
        vq.train();
        var input = z.clone().requires_grad_();
        var r = vq.forward(input);
        (r.Quantized.square().sum() + r.AuxLoss).backward();
        Assert.True(table.grad is null || table.grad.abs().sum().item<float>() == 0, "a frozen table gets no gradient");
        Assert.True(input.grad!.abs().sum().item<float>() > 0, "the encoder still does");
        Assert.True(table.eq(before).all().item<bool>());
        Assert.Throws<ArgumentException>(() => new VectorQuantizer(2, new ExternalCodebook(() => table), kmeansInit: true));
    }

    [Fact]
    public void ATrainableExternalCodebookPassesTheCodebookLossToTheTable()
    {
        using var table = nn.Parameter(tensor(new float[] { 1, 0, 0, 1 }, new long[] { 2, 2 }));
        using var vq = new VectorQuantizer(2, new ExternalCodebook(() => table, trainable: true));
        vq.train();
        var r = vq.forward(tensor(new float[] { 0.5f, 0.1f }, new long[] { 1, 1, 2 }));
        r.AuxLoss.backward();
        var grad = table.grad!.data<float>().ToArray();
        // d/d e0 of mean((e0 − z)²) over 2 entries = (e0 − z): (1 − 0.5, 0 − 0.1); row 1 was not chosen.
        Assert.Equal(new[] { 0.5f, -0.1f, 0f, 0f }, grad.Select(g => (float)Math.Round(g, 5)).ToArray());
    }
}
