// The trainer, its schedule and the artifact cache; metrics against hand-worked values and naive loops.
using Kit.Core;
using Kit.Evaluation;
using Kit.Quantizers;
using Kit.Tokenizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class TrainingTests : TempDirectoryTest
{
    static StepResult RegressionStep(TinyModel model, int step) => model.RegressionStep(step);

    TrainerOptions Options(int steps, string? path = null, int every = 0) =>
        new(steps, LearningRate: 0.05, WarmupSteps: 3, LogEvery: 1, CheckpointEvery: every, CheckpointPath: path, ShowProgress: false);

    [Fact]
    public void ResumingGivesTheSameLossesAsAnUninterruptedRun()
    {
        manual_seed(1);
        var straight = new TinyModel(6);
        var init = System.IO.Path.Combine(Dir, "init.safetensors");
        Checkpoint.Save(init, straight);
        var full = new Trainer(straight, Options(20)).Run(s => RegressionStep(straight, s)).Losses;

        var first = new TinyModel(6);
        Checkpoint.Load(init, first);
        var path = System.IO.Path.Combine(Dir, "run.safetensors");
        // The same 20-step run, killed at step 11 (after the checkpoint of step 10).
        Assert.Throws<OperationCanceledException>(() => new Trainer(first, Options(20, path, every: 10))
            .Run(s => s == 11 ? throw new OperationCanceledException("killed") : RegressionStep(first, s)));
        var resumed = new TinyModel(6); // fresh weights: everything must come from the checkpoint
        var log = new Trainer(resumed, Options(20, path, every: 10)).Run(s => RegressionStep(resumed, s));
        Assert.Equal(11, log.Rows[0].Step);
        Assert.Equal(full.Skip(10), log.Losses);
        Assert.True(full[^1] < full[0] * 0.5, "the regression should learn");
    }

    [Fact]
    public void ACheckpointOfAnotherRunIsRefusedWithBothNamed()
    {
        manual_seed(2);
        var model = new TinyModel(4);
        var path = System.IO.Path.Combine(Dir, "finished.safetensors");
        new Trainer(model, Options(20, path, every: 10)).Run(s => RegressionStep(model, s), config: new { lr = 0.05 });
        var before = model.parameters().Select(p => p.clone()).ToList();
        // Fewer steps than the checkpoint holds: resuming would train nothing.
        var past = Assert.Throws<InvalidOperationException>(() => new Trainer(model, Options(10, path, every: 10)).Run(s => RegressionStep(model, s), config: new { lr = 0.05 }));
        Assert.Contains("step 20, past this run's Steps=10", past.Message);
        // Another config: both are named.
        var other = Assert.Throws<InvalidOperationException>(() => new Trainer(model, Options(30, path, every: 10)).Run(s => RegressionStep(model, s), config: new { lr = 0.1 }));
        Assert.Contains("{\"lr\":0.05}", other.Message);
        Assert.Contains("{\"lr\":0.1}", other.Message);
        Assert.All(model.parameters().Zip(before), pair => Assert.True(pair.First.equal(pair.Second).all().item<bool>()));   // refused before loading
        // Asked for, the other config resumes, from step 21.
        var log = new Trainer(model, Options(30, path, every: 10) with { ResumeMismatched = true }).Run(s => RegressionStep(model, s), config: new { lr = 0.1 });
        Assert.Equal(21, log.Rows[0].Step);
    }

    [Fact]
    public void ANaNLossStopsWithTheStepAndTheLastGoodCheckpoint()
    {
        var model = new TinyModel(4);
        var path = System.IO.Path.Combine(Dir, "nan.safetensors");
        var trainer = new Trainer(model, Options(20, path, every: 5));
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run(s => s == 7 ? new StepResult(tensor(float.NaN)) : RegressionStep(model, s)));
        Assert.Contains("step 7", e.Message);
        Assert.Contains($"{path} (step 5)", e.Message);
        Assert.Equal(5, Checkpoint.ReadInfo(path).Step);
    }

    [Fact]
    public void ANonFiniteGradientStopsTheStepBeforeItReachesTheWeightsAndNamesTheParameter()
    {
        var model = new TinyModel(4);
        var before = model.parameters().Select(p => p.clone()).ToList();
        var trainer = new Trainer(model, Options(5));
        // A finite loss whose gradient is infinite at fc2's weight alone: (w − sg(w))^0.5 is 0, its derivative 0.5 · 0^−0.5 = ∞.
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Run(s =>
        {
            var w = model.named_parameters().First(p => p.name == "fc2.weight").parameter;
            return new StepResult(RegressionStep(model, s).Loss + (w - w.detach()).pow(0.5).sum());
        }));
        Assert.Contains("at step 1", e.Message);
        Assert.Contains("non-finite gradients in fc2.weight", e.Message);
        Assert.DoesNotContain("fc1.weight", e.Message);
        // A NaN gradient (√0 in backward: ∞ · 0) makes every gradient NaN after clipping, and says so.
        var nan = Assert.Throws<TrainingDivergedException>(() => new Trainer(model, Options(5)).Run(s => new StepResult(RegressionStep(model, s).Loss +
            (model.named_parameters().First(p => p.name == "fc2.weight").parameter * 0).sqrt().sum())));
        Assert.Contains("the gradient norm is NaN at step 1", nan.Message);
        Assert.All(model.parameters().Zip(before), pair => Assert.True(pair.First.equal(pair.Second).all().item<bool>())); // the step was not applied
    }

    [Fact]
    public void ScheduleWarmsUpThenDecaysByCosine()
    {
        var s = new LearningRateSchedule(1.0, 10, 110, 0.1);
        Assert.Equal(0.5, s.At(5), 12);
        Assert.Equal(1.0, s.At(10), 12);
        Assert.Equal(0.1 + 0.9 * 0.5, s.At(60), 12); // halfway: cos(π/2) = 0
        Assert.Equal(0.1, s.At(110), 12);
    }

    [Fact]
    public void ArtifactCacheTrainsOncePerConfig()
    {
        var previous = Environment.GetEnvironmentVariable("KIT_CACHE");
        Environment.SetEnvironmentVariable("KIT_CACHE", Dir);
        try
        {
            int trained = 0;
            (TinyModel, bool) Get(object config) => ArtifactCache.GetOrTrain("tiny", config, 1, () => new TinyModel(3), m =>
            {
                trained++;
                using (no_grad()) m.state_dict()["counts"].fill_(trained);
            });
            var (a, loadedA) = Get(new TinyConfig(3, "a", 0.1));
            var (b, loadedB) = Get(new TinyConfig(3, "a", 0.1));
            var (c, loadedC) = Get(new TinyConfig(3, "a", 0.2));
            Assert.Equal((false, true, false), (loadedA, loadedB, loadedC));
            Assert.Equal(2, trained);
            Assert.Equal(1, b.state_dict()["counts"][0].item<long>()); // the weights of the first training
        }
        finally { Environment.SetEnvironmentVariable("KIT_CACHE", previous); }
    }

    [Fact]
    public void ArtifactsDoNotDependOnWhatRanBeforeAndLeaveTheGeneratorAsTheyFoundIt()
    {
        var previous = Environment.GetEnvironmentVariable("KIT_CACHE");
        try
        {
            // Training draws from torch's generator too, as k-means initialisation and dropout do.
            (TinyModel Model, bool Loaded, float[] After) Get(string cache, long seed, int drawsBefore)
            {
                Environment.SetEnvironmentVariable("KIT_CACHE", System.IO.Path.Combine(Dir, cache));
                manual_seed(seed);
                rand(drawsBefore).Dispose();
                var (model, loaded) = ArtifactCache.GetOrTrain("rng", new TinyConfig(3, "rng", 0.1), 1, () => new TinyModel(3), m =>
                {
                    using (no_grad()) foreach (var p in m.parameters()) p.add_(rand(p.shape));
                });
                return (model, loaded, rand(4).data<float>().ToArray());
            }
            float[] Weights(TinyModel m) => m.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();
            float[] Expected(long seed, int drawsBefore) { manual_seed(seed); rand(drawsBefore).Dispose(); return rand(4).data<float>().ToArray(); }

            var trained = Get("one", seed: 1, drawsBefore: 3);
            var loaded = Get("one", seed: 2, drawsBefore: 5);
            var trainedElsewhere = Get("two", seed: 3, drawsBefore: 7);
            Assert.Equal((false, true, false), (trained.Loaded, loaded.Loaded, trainedElsewhere.Loaded));
            // The same weights whatever was drawn before, trained or loaded.
            Assert.Equal(Weights(trained.Model), Weights(loaded.Model));
            Assert.Equal(Weights(trained.Model), Weights(trainedElsewhere.Model));
            // Afterwards the generator continues as if the cache had not been asked.
            Assert.Equal(Expected(1, 3), trained.After);
            Assert.Equal(Expected(2, 5), loaded.After);
            Assert.Equal(Expected(3, 7), trainedElsewhere.After);
        }
        finally { Environment.SetEnvironmentVariable("KIT_CACHE", previous); }
    }
}

public class MetricTests
{
    [Fact]
    public void PsnrOfAHandWorkedPair()
    {
        using var a = zeros(2, 3, 4, 4);
        using var b = full(new long[] { 2, 3, 4, 4 }, 0.5f);
        // [0, 1] values 0.5 and 0.75: MSE 0.0625, PSNR = 10·log10(1/0.0625) = 12.0412 dB
        Assert.Equal(10 * Math.Log10(16), ImageMetrics.Psnr(a, b), 4);
    }

    static double NaiveSsim(double[,] x, double[,] y, int size, double sigma)
    {
        var w = ImageMetrics.GaussianWindow(size, sigma).to(float64).data<double>().ToArray();
        int n = x.GetLength(0), m = n - size + 1;
        double total = 0, c1 = 1e-4, c2 = 9e-4;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
            {
                double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                for (int u = 0; u < size; u++)
                    for (int v = 0; v < size; v++)
                    {
                        double k = w[u * size + v], a = x[i + u, j + v], b = y[i + u, j + v];
                        mx += k * a; my += k * b; xx += k * a * a; yy += k * b * b; xy += k * a * b;
                    }
                double vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my;
                total += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
            }
        return total / (m * m);
    }

    [Fact]
    public void SsimMatchesANaiveLoop()
    {
        manual_seed(4);
        using var a = rand(1, 1, 14, 14) * 2 - 1;
        using var b = (a + randn(1, 1, 14, 14) * 0.3).clamp(-1, 1);
        var x = new double[14, 14]; var y = new double[14, 14];
        for (int i = 0; i < 14; i++) for (int j = 0; j < 14; j++) { x[i, j] = (a[0, 0, i, j].item<float>() + 1) / 2; y[i, j] = (b[0, 0, i, j].item<float>() + 1) / 2; }
        Assert.Equal(NaiveSsim(x, y, 11, 1.5), ImageMetrics.Ssim(b, a), 6);
        Assert.Equal(1.0, ImageMetrics.Ssim(a, a), 9);
    }

    [Fact]
    public void FrechetDistanceOfHandWorkedSets()
    {
        manual_seed(8);
        using var f = randn(500, 4, dtype: float64);
        Assert.True(ImageMetrics.FrechetDistance(f, f) < 1e-6);
        using var shift = tensor(new double[] { 1, -2, 0, 0.5 });
        Assert.Equal(1 + 4 + 0.25, ImageMetrics.FrechetDistance(f, f + shift), 6); // same covariance: only the means differ
        // 1-d: a set and twice itself: (μ − 2μ)² + (σ − 2σ)² = μ² + σ² with the sample variance σ².
        using var g = randn(300, 1, dtype: float64) + 0.7;
        double mu = g.mean().item<double>(), variance = g.var(0).item<double>();
        Assert.Equal(mu * mu + variance, ImageMetrics.FrechetDistance(g, g * 2), 6);
    }
}

public class TokenizerTests
{
    [Fact]
    public void EncodeThenDecodeEqualsTheForwardReconstruction()
    {
        manual_seed(3);
        foreach (var spec in new[] { new QuantizerSpec(CodebookSize: 32), new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 6),
                     new QuantizerSpec(Kind: QuantizerKind.Stacked, Depth: 2, Aggregation: StackAggregation.CumulativeSum, CodebookSize: 16) })
        {
            var config = new TokenizerConfig(Channels: 16, LatentDim: spec.RequiredDim ?? 8);
            using var tokenizer = new ImageTokenizer(config, spec.Build(config.LatentDim));
            tokenizer.eval();
            using var scope = NewDisposeScope();
            var x = rand(2, 3, 16, 16) * 2 - 1;
            var codes = tokenizer.Encode(x);
            Assert.Equal(new long[] { 2, 4, 4 }.Concat(spec.Kind == QuantizerKind.Stacked ? new long[] { 2 } : Array.Empty<long>()), codes.shape);
            using var noGrad = no_grad();
            Assert.True(tokenizer.Decode(codes).allclose(tokenizer.forward(x).Reconstruction, 1e-5, 1e-5), spec.Describe());
        }
    }

    [Fact]
    public void ImagesOfTheWrongSizeAreRejected()
    {
        using var tokenizer = new ImageTokenizer(new TokenizerConfig(Channels: 16, LatentDim: 8), new VectorQuantizer(8, 16));
        var e = Assert.Throws<ArgumentException>(() => tokenizer.forward(zeros(1, 3, 30, 30)));
        Assert.Contains("divisible by 4", e.Message);
        Assert.Throws<ArgumentException>(() => new ImageTokenizer(new TokenizerConfig(LatentDim: 8), new VectorQuantizer(6, 16)));
    }
}

public class FlopCounterTests
{
    [Fact]
    public void CountsConvolutionAndLinearMacsByHand()
    {
        // conv 3→8, 3×3, padding 1 on 10×10: 10·10·8 outputs × 3·9 = 21,600 MACs;
        // conv 8→4, 1×1, stride 2: 5·5·4 outputs × 8 = 800; linear 100→7: 700. Total 23,100 per sample.
        var model = nn.Sequential(("a", nn.Conv2d(3, 8, 3, padding: 1)), ("b", nn.Conv2d(8, 4, 1, stride: 2)), ("f", nn.Flatten()), ("c", nn.Linear(100, 7)));
        Assert.Equal(23_100, Kit.Evaluation.FlopCounter.ForwardMacsPerSample(model, () => zeros(2, 3, 10, 10)));
        // Training, 2 FLOPs per MAC per pass: the first conv reads images, which need no gradient, so forward + weight
        // gradient only (2 passes, 4 × 21,600); the others forward + weight + input gradient (6 × (800 + 700)). Not 6 × 23,100.
        Assert.Equal(4 * 21_600 + 6 * (800 + 700), Kit.Evaluation.FlopCounter.PerSample(model, () => zeros(2, 3, 10, 10)).TrainingFlops);
    }

    [Fact]
    public void CountsATransposedConvolutionByItsInputs()
    {
        // conv 1→4, 1×1 on 3×3: 9·4 outputs × 1 = 36 MACs (first layer: 2 passes). Transposed conv 4→2, 2×2, stride 2:
        // each of the 4·9 input elements scatters a 2·(2×2) kernel = 288 MACs (= 6·6·2 outputs × 4 × 4 / stride²), 3 passes.
        var model = nn.Sequential(("a", nn.Conv2d(1, 4, 1)), ("up", nn.ConvTranspose2d(4, 2, 2, stride: 2)));
        var count = Kit.Evaluation.FlopCounter.PerSample(model, () => zeros(2, 1, 3, 3));
        Assert.Equal(36 + 288, count.ForwardMacs);
        Assert.Equal(4 * 36 + 6 * 288, count.TrainingFlops);
    }

    [Fact]
    public void CountsAttentionsProductsBesideItsProjections()
    {
        // Self-attention, Dim 8, 2 heads, T = 5, batch 1: qkv 5·24 outputs × 8 = 960; QKᵀ and AV 2 × 5·5 × 8 = 400
        // (causal: 2 × 15 × 8 = 240, the 15 pairs j ≤ i); proj 5·8 × 8 = 320.
        using var attention = new Kit.Core.MultiHeadAttention(8, 2);
        var full = Kit.Evaluation.FlopCounter.PerSample(attention, () => randn(1, 5, 8), x => attention.Forward(x));
        Assert.Equal(960 + 400 + 320, full.ForwardMacs);
        Assert.Equal(400, full.AttentionMacs);
        // Training: qkv reads the input (no gradient): 2 passes; the products' queries need gradients: 3; proj: 3.
        Assert.Equal(4 * 960 + 6 * 400 + 6 * 320, full.TrainingFlops);
        var causal = Kit.Evaluation.FlopCounter.PerSample(attention, () => randn(1, 5, 8), x => attention.Forward(x, mask: new Kit.Core.AttentionMask(Causal: true)));
        Assert.Equal(960 + 240 + 320, causal.ForwardMacs);
    }

    [Fact]
    public void AFrozenLayerCostsNoWeightGradientAndLayersAfterFrozenOnesNoInputGradient()
    {
        // Linear 4→3 then 3→2 on one sample: 3·4 = 12 and 2·3 = 6 MACs.
        static nn.Module Two(bool firstTrained, bool secondTrained)
        {
            var a = nn.Linear(4, 3); var b = nn.Linear(3, 2);
            foreach (var p in a.parameters()) p.requires_grad = firstTrained;
            foreach (var p in b.parameters()) p.requires_grad = secondTrained;
            return nn.Sequential(("a", a), ("b", b));
        }
        // Frozen first: forward only (2·12); the second's input needs no gradient: forward + weight (4·6).
        Assert.Equal(2 * 12 + 4 * 6, Kit.Evaluation.FlopCounter.PerSample(Two(false, true), () => zeros(1, 4)).TrainingFlops);
        // Frozen second fed by a trained first: forward + weight (4·12); forward + input gradient (4·6).
        Assert.Equal(4 * 12 + 4 * 6, Kit.Evaluation.FlopCounter.PerSample(Two(true, false), () => zeros(1, 4)).TrainingFlops);
        // Both trained: 6 per MAC for the second, 4 for the first (it reads the input).
        Assert.Equal(4 * 12 + 6 * 6, Kit.Evaluation.FlopCounter.PerSample(Two(true, true), () => zeros(1, 4)).TrainingFlops);
    }
}

public sealed class TokenizerTrainingTests : TempDirectoryTest
{
    [Fact]
    public void PerceptualAndAdversarialLossesTrainWithoutDiverging()
    {
        var previous = Environment.GetEnvironmentVariable("KIT_CACHE");
        Environment.SetEnvironmentVariable("KIT_CACHE", Dir);
        try
        {
            var probe = new ProbeNetwork(new ProbeConfig(Resolution: 16));
            var training = new TokenizerTrainingConfig(Steps: 4, BatchSize: 8, Resolution: 16, TrainImages: 32, EvalImages: 16,
                PerceptualWeight: 0.1, AdversarialWeight: 0.1, DiscriminatorStart: 2, EntropyAnnealSteps: 4);
            var run = TokenizerTraining.Run(new TokenizerConfig(Channels: 16), new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 6), training, probe);
            Assert.False(run.FromCache);
            Assert.Equal(4, run.Log.Rows[^1].Step);
            Assert.Contains("perceptual", run.Log.Rows[^1].Metrics.Keys);
            Assert.Contains("discriminator", run.Log.Rows[^1].Metrics.Keys);  // from step 2 on
            Assert.DoesNotContain("discriminator", run.Log.Rows[0].Metrics.Keys);
            Assert.InRange(run.Metrics.Usage, 0, 1);
            Assert.Equal(0.1, ((LookupFreeQuantizer)run.Tokenizer.Quantizer).EntropyWeight, 9); // restored after annealing
            Assert.True(TokenizerTraining.Run(new TokenizerConfig(Channels: 16), new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 6), training, probe).FromCache);
        }
        finally { Environment.SetEnvironmentVariable("KIT_CACHE", previous); }
    }

    [Fact]
    public void EntropyWeightAnnealsLinearly()
    {
        var t = new TokenizerTrainingConfig(EntropyAnnealSteps: 100, EntropyFinalFraction: 0.2);
        Assert.Equal(1.0, t.EntropyFactor(0), 12);
        Assert.Equal(0.6, t.EntropyFactor(50), 12);
        Assert.Equal(0.2, t.EntropyFactor(100), 12);
        Assert.Equal(0.2, t.EntropyFactor(500), 12);
        Assert.Equal(1.0, new TokenizerTrainingConfig().EntropyFactor(300), 12);
    }
}

public class TokenizerFlopTests
{
    [Fact]
    public void CountsEveryConvolutionOfTheTokenizer()
    {
        // 8 channels, one downsampling, no res blocks beyond the defaults: count the convs by hand.
        var config = new Kit.Tokenizers.TokenizerConfig(Channels: 8, ChannelMultipliers: new[] { 1 }, ResBlocks: 1, LatentDim: 4, Groups: 4);
        using var model = new Kit.Tokenizers.ImageTokenizer(config, new Kit.Quantizers.VectorQuantizer(4, 16));
        double hw = 8 * 8, half = 4 * 4;
        double encoder = hw * 8 * 3 * 9          // conv_in 3→8
                       + 2 * hw * 8 * 8 * 9      // res0: two 3×3 convs 8→8
                       + half * 8 * 8 * 9        // down0: strided 3×3
                       + 2 * half * 8 * 8 * 9    // res_mid
                       + half * 4 * 8;           // conv_out 1×1 → 4
        double decoder = half * 8 * 4 * 9        // conv_in 4→8
                       + 2 * half * 8 * 8 * 9    // res_mid
                       + half * 32 * 8 * 9       // up0: 8→4·8 then pixel shuffle
                       + 2 * hw * 8 * 8 * 9      // res0
                       + hw * 3 * 8 * 9;         // conv_out 8→3
        Assert.Equal(encoder + decoder, Kit.Evaluation.FlopCounter.ForwardMacsPerSample(model, () => zeros(2, 3, 8, 8), x => model.call(x)));
    }
}

public sealed class ParameterGroupTests
{
    static float[] Values(nn.Module m) => m.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();

    [Fact]
    public void TheAlternatingScheduleStepsOnlyTheScheduledGroup()
    {
        manual_seed(3);
        using var first = new TinyModel(3);
        using var second = new TinyModel(3);
        var both = nn.Sequential(("first", first), ("second", second));
        var groups = new[] { new ParameterGroup("first", first.parameters().ToList()), new ParameterGroup("second", second.parameters().ToList(), LearningRate: 0.05) };
        var trainer = new Trainer(both, new TrainerOptions(6, 0.01, ShowProgress: false, LogEvery: 1), groups, StepSchedules.Alternate(2, "first", "second"));
        var x = randn(8, 3);
        var seen = new List<(float[] First, float[] Second)> { (Values(first), Values(second)) };
        int step = 0;
        trainer.Run(s =>
        {
            // Both models are in the loss every step: only the schedule decides which of them moves.
            if (s != ++step) throw new InvalidOperationException("steps out of order");
            if (s > 1) seen.Add((Values(first), Values(second)));
            return new StepResult((first.forward(x) + second.forward(x)).square().mean());
        });
        seen.Add((Values(first), Values(second)));
        // Steps 1–2 move only the first group, 3–4 only the second, 5–6 the first again.
        for (int s = 1; s <= 6; s++)
        {
            var (before, after) = (seen[s - 1], seen[s]);
            bool firstStepped = (s - 1) / 2 % 2 == 0;
            Assert.Equal(firstStepped, !before.First.SequenceEqual(after.First));
            Assert.Equal(firstStepped, before.Second.SequenceEqual(after.Second)); // bitwise unchanged when not scheduled
        }
    }

    [Fact]
    public void EachGroupMinimisesItsOwnLoss()
    {
        // a's loss pulls a(x) to 0, b's own loss pulls b(x) to 1; were b stepped on the shared loss, it would go to 0 too.
        manual_seed(4);
        using var a = new TinyModel(4);
        using var b = new TinyModel(4);
        var model = nn.Sequential(("a", a), ("b", b));
        var groups = new[] { new ParameterGroup("a", a.parameters().ToList()), new ParameterGroup("b", b.parameters().ToList()) };
        var trainer = new Trainer(model, new TrainerOptions(150, 0.02, ShowProgress: false, GradientClip: 0), groups);
        var x = randn(16, 3);
        trainer.Run(_ => new StepResult(a.forward(x).square().mean() + b.forward(x).square().mean(),
            GroupLosses: new Dictionary<string, Tensor> { ["b"] = (b.forward(x) - 1).square().mean() }));
        using var noGrad = no_grad();
        Assert.True(a.forward(x).abs().mean().item<float>() < 0.1, "a follows the step's loss");
        Assert.True((b.forward(x) - 1).abs().mean().item<float>() < 0.1, "b follows its own loss, not the step's");
        Assert.Throws<ArgumentException>(() => new Trainer(model, new TrainerOptions(1), new[] { groups[0], groups[0] }));
    }

    [Fact]
    public void GroupsThatShareOneLossStepTogetherEachAtItsOwnRate()
    {
        // One backward for both, then each steps: Adam's first step moves every weight by its group's rate (|m̂ / √v̂| = 1),
        // so b's weights move 10× as far as a's. A backward per group would fail here: a's step changes in place the
        // weights b's backward still needs.
        manual_seed(5);
        using var a = new TinyModel(3);
        using var b = new TinyModel(3);
        var model = nn.Sequential(("a", a), ("b", b));
        var groups = new[] { new ParameterGroup("a", a.parameters().ToList(), LearningRate: 0.001), new ParameterGroup("b", b.parameters().ToList(), LearningRate: 0.01) };
        var trainer = new Trainer(model, new TrainerOptions(1, 0.001, ShowProgress: false, GradientClip: 0, MinLearningRateFraction: 1), groups);
        var x = randn(8, 3);
        var (a0, b0) = (Values(a), Values(b));
        trainer.Run(_ => new StepResult((a.forward(x) * b.forward(x)).square().mean()));
        var (a1, b1) = (Values(a), Values(b));
        for (int i = 0; i < a0.Length; i++) Assert.Equal(0.001, Math.Abs(a1[i] - a0[i]), 4);
        for (int i = 0; i < b0.Length; i++) Assert.Equal(0.01, Math.Abs(b1[i] - b0[i]), 4);
    }
}
