// `kit bench dynamic`: LaVIT's dynamic tokenizer training images/s and GFLOP/s as a share of the matmul peak measured
// in the same run, at the notebook's size (a random backbone of the same shape: speed does not depend on its weights);
// and the unified LLM's training positions/s on dynamic-length sequences against fixed 64- and 25-code ones.
using System.Diagnostics;
using Kit.Backbones;
using Kit.Core;
using Kit.Evaluation;
using Kit.Experiments;
using Kit.Language;
using Kit.Notebook;
using Kit.Tokenizers;
using Kit.Tokenizers.Dynamic;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Cli;

static class BenchDynamic
{
    /// <summary>Tokenizer training throughput per variant, and LLM training speed by visual sequence length.</summary>
    public static ResultTable[] Run(double peak, int steps)
    {
        Seeding.SeedEverything(0);
        var config = DynamicExperimentConfig.For(RunScale.Default);
        using var backbone = new VisionTransformer(config.Backbone.Vit);
        backbone.eval();
        foreach (var p in backbone.parameters()) p.requires_grad = false;
        using var images = rand(256, 3, backbone.ImageSize, backbone.ImageSize) * 2 - 1;
        Tensor features;
        using (no_grad()) features = backbone.PatchFeatures(images);
        int batch = config.Training.BatchSize;
        var rows = new List<IReadOnlyList<object?>>();
        foreach (var variant in new[] { config.Tokenizer, config.Tokenizer with { Merger = !config.Tokenizer.Merger },
            config.Tokenizer with { KeepRatio = 1 }, config.Tokenizer with { PooledGrid = 5 } })
        {
            using var model = new DynamicTokenizer(backbone, variant);
            var count = FlopCounter.PerSample(model, () => features.narrow(0, 0, 8), x => model.Forward(x));
            double macs = count.ForwardMacs;
            var optimizer = optim.AdamW(model.parameters(), 1e-3);
            void Step(int i) => Scopes.Run(() =>
            {
                model.train();
                var x = features.narrow(0, (i * batch) % (256 - batch), batch);
                var (loss, _) = model.Loss(model.Forward(x), x);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                loss.item<float>();
            });
            for (int i = 0; i < 3; i++) Step(i);
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) Step(i);
            double perSecond = steps * batch / clock.Elapsed.TotalSeconds;
            double gflops = perSecond * count.TrainingFlops / 1e9;
            double share = Bench.ShareOfPeak(gflops, peak, $"dynamic tokenizer {variant.Describe()}");
            rows.Add(new object?[] { variant.Describe(), macs / 1e6, perSecond, gflops, share });
            Console.WriteLine($"  {variant.Describe()}: {perSecond:0} img/s, {gflops:0} GFLOP/s = {share:P0} of peak");
        }
        var tokenizers = ResultTable.FromRows($"Dynamic tokenizer training throughput (features of " +
            $"{backbone.GridHeight}×{backbone.GridWidth} patches × {backbone.Dim}, batch {batch}, forward+backward+AdamW)",
            new[] { "tokenizer", "forward MMAC/img (layers and attention)", "img/s", "GFLOP/s", "of matmul peak" }, rows,
            note: $"Training FLOPs = 2 per MAC for the forward pass and the gradients backward computes, of every linear layer and " +
                $"attention product (FlopCounter; the frozen backbone runs outside the step and is not counted); peak = float32 matmul " +
                    $"measured in this run ({peak:0} GFLOP/s).");
        return new[] { tokenizers, Sequences(peak, steps, config) };
    }

    // The unified LLM on sequences whose images take 64 codes, 25 codes, or a content-dependent number (drawn around a
    // third of 64, as LaVIT's ρ = 1/3 keeps): the same model, the same text.
    static ResultTable Sequences(double peak, int steps, DynamicExperimentConfig config)
    {
        var corpus = TextCorpus.Build(config.Llm.Text.Corpus with { Scenes = 500, WordNetLines = 0 });
        var text = TextTokenizer.Fit(corpus.All);
        var vocabulary = new UnifiedVocabulary(text, 256);
        var scenes = Enumerable.Range(0, 512).Select(i => new Kit.Data.ShapesDataset(512, Kit.Data.Split.Train)[i].Scene).ToList();
        var rng = KitRandom.For(0, 99);
        var layouts = new (string Name, Func<int> Length, int Max)[]
        {
            ("fixed 64 codes per image (ρ = 1)", () => 64, 64),
            ("fixed 25 codes (5×5 pooled grid)", () => 25, 64),
            ("dynamic, 21 ± 5 codes", () => Math.Clamp((int)Math.Round(21 + 5 * rng.Normal()), 1, 64), 64),
        };
        var rows = new List<IReadOnlyList<object?>>();
        foreach (var (name, length, max) in layouts)
        {
            var codes = VisualCodes.FromRows(scenes.Select(_ => Enumerable.Range(0,
                length()).Select(__ => (long)rng.Next(256)).ToArray()).ToList());
            var sequences = new UnifiedSequences(vocabulary, new VisualCorpus(scenes, codes), corpus.Train, SequenceMix.Standard());
            var gpt = config.Llm.Text.Shape.Over(vocabulary);
            using var model = new UnifiedModel(UnifiedModelConfig.For(vocabulary, gpt, VisualInterface.Tokens, 0, imagePositions: max));
            var training = config.Llm.Unified with { Steps = steps };
            LanguageTraining.Train(model, sequences, training with { Steps = 2 }, label: "warm-up");
            var clock = Stopwatch.StartNew();
            var log = LanguageTraining.Train(model, sequences, training, label: name);
            double seconds = clock.Elapsed.TotalSeconds;
            double positions = log.Metric("positions").Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
            double perSecond = steps * training.BatchSize * positions / seconds;
            rows.Add(new object?[] { name, codes.Lengths.Average(), positions, steps * training.BatchSize / seconds, perSecond });
            Console.WriteLine($"  LLM, {name}: {positions:0} positions per row, {steps * training.BatchSize / seconds:0} rows/s");
        }
        return ResultTable.FromRows($"Unified LLM training speed by visual sequence length ({config.Llm.Text.Shape.Layers} layers × " +
            $"{config.Llm.Text.Shape.Dim}, batch {config.Llm.Unified.BatchSize})",
            new[] { "images as", "codes per image", "padded positions per row", "rows/s", "positions/s" }, rows,
            note: "The same model and text; rows are padded to the longest in their batch, so fewer codes per image means shorter steps.");
    }
}
