// "Same seed, same numbers, whatever ran before in the process", as tests. libtorch's `empty` returns whatever the
// memory held, and the kit's malloc settings make reuse of freed memory common: a parameter or buffer that a constructor
// forgets to write (TorchSharp 0.107's GroupNorm does) then holds a previous tensor's bytes, and a run's numbers depend
// on what ran before it. Here the freed memory is filled with NaN first, so such a read cannot pass unnoticed.
using Kit.Backbones;
using Kit.Core;
using Kit.Evaluation;
using Kit.Experiments;
using Kit.Language;
using Kit.Lexical;
using Kit.Quantizers;
using Kit.Tokenizers;
using Kit.Tokenizers.Dynamic;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class DeterminismTests : TempDirectoryTest
{
    // Allocates and frees tensors full of NaN in the sizes the kit's modules use, so the allocator hands that memory out next.
    static void PoisonFreedMemory()
    {
        var tensors = new List<Tensor>();
        foreach (long n in new long[] { 1, 2, 3, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 1 << 18, 1 << 20 })
            for (int i = 0; i < 6; i++) tensors.Add(full(n, float.NaN));
        foreach (var t in tensors) t.Dispose();
    }

    static IEnumerable<(string Name, Func<nn.Module> Build)> EveryModule()
    {
        var tokenizer = new TokenizerConfig(Channels: 8, LatentDim: 8);
        foreach (var spec in new[]
        {
            new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 16),
            new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 16, Update: CodebookUpdate.Gradient, KmeansInit: true),
            new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 8),
            new QuantizerSpec(Kind: QuantizerKind.Fsq, Levels: new[] { 8, 5, 5, 5, 4, 4, 4, 4 }),
            new QuantizerSpec(Kind: QuantizerKind.Stacked, Depth: 2, CodebookSize: 16),
            new QuantizerSpec(Kind: QuantizerKind.TwoLevel, CodebookSize: 16),
        })
            yield return ($"ImageTokenizer({spec.Describe()})", () => new ImageTokenizer(tokenizer with { LatentDim = spec.RequiredDim ?? 8, PreQuantNorm = spec.Kind == QuantizerKind.Lfq },
                spec.Build(spec.RequiredDim ?? 8)));
        yield return ("PatchDiscriminator", () => new PatchDiscriminator());
        yield return ("ProbeNetwork", () => new ProbeNetwork(new ProbeConfig()));
        var gpt = new GptConfig(VocabSize: 40, ContextLength: 16, Layers: 1, Heads: 2, Dim: 16);
        yield return ("Gpt", () => new Gpt(gpt));
        yield return ("Gpt (learned positions, untied)", () => new Gpt(gpt with { Rope = false, TieEmbeddings = false }));
        var vocabulary = new UnifiedVocabulary(TextTokenizer.Fit(new[] { "a small red circle left of a blue square" }), 16);
        foreach (var visual in new[] { VisualInterface.Tokens, VisualInterface.Regression, VisualInterface.PatchProjection })
            yield return ($"UnifiedModel ({visual})", () => new UnifiedModel(UnifiedModelConfig.For(vocabulary, gpt with { VocabSize = vocabulary.Count }, visual,
                featureDim: visual == VisualInterface.Tokens ? 0 : 8, imagePositions: 4)));
        var vit = new VitConfig(Dim: 16, Layers: 1, Heads: 2);
        yield return ("VisionTransformer", () => new VisionTransformer(vit));
        yield return ("MaeDecoder", () => new MaeDecoder(new MaeConfig(vit, DecoderDim: 16)));
        yield return ("PixelDecoder", () => new PixelDecoder(new VisionTransformer(vit), new PixelDecoderConfig(Channels: 8)));
        yield return ("DynamicTokenizer", () => new DynamicTokenizer(new VisionTransformer(vit), new DynamicTokenizerConfig(MergerLayers: 1, DecoderLayers: 1, Heads: 2)));
        yield return ("TokenSelector", () => new TokenSelector(16));
        yield return ("TokenMerger", () => new TokenMerger(16, 1, 2));
        yield return ("FeatureDecoder", () => new FeatureDecoder(64, 16, 8, 1, 2));
        yield return ("LexicalImageEncoder", () => new LexicalImageEncoder(16, randn(12, 16), heads: 2));
    }

    [Fact]
    public void EveryModuleIsFiniteAfterConstructionOnMemoryFullOfNaN()
    {
        PoisonFreedMemory();
        using (var probe = empty(4096)) Assert.True(probe.isnan().any().item<bool>(), "the poisoning should leave NaN where memory is reused");
        var broken = new List<string>();
        foreach (var (name, build) in EveryModule())
        {
            PoisonFreedMemory();
            using var module = build();
            foreach (var (p, t) in module.named_parameters().Select(x => (x.name, (Tensor)x.parameter)).Concat(module.named_buffers()))
                if (t.is_floating_point() && !t.isfinite().all().item<bool>()) broken.Add($"{name}: {p}");
        }
        Assert.Empty(broken);
    }

    [Fact]
    public void ATinyTrainingGivesTheSameLossesWhateverRanBeforeInTheProcess()
    {
        var previous = Environment.GetEnvironmentVariable("KIT_CACHE");
        Environment.SetEnvironmentVariable("KIT_CACHE", Path.Combine(Dir, "cache"));
        try
        {
            var kit = KitRecipes.Setup("tiny", seed: 1, CPU);
            long[] Losses(QuantizerSpec spec)
            {
                Seeding.SeedEverything(1);
                var config = kit.Tokenizer with { LatentDim = spec.RequiredDim ?? kit.Tokenizer.LatentDim, PreQuantNorm = spec.Kind == QuantizerKind.Lfq };
                using var model = new ImageTokenizer(config, spec.Build(config.LatentDim), kit.Training.Resolution);
                var log = TokenizerTraining.Train(model, kit.Training, kit.Probe, CPU);
                return log.Rows.Select(r => BitConverter.DoubleToInt64Bits(r.Loss)).ToArray();
            }
            var specs = new[]
            {
                new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 16),
                new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 4),
                new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 256, KmeansInit: true, DeadCodeThreshold: 1.0),
            };
            var first = specs.Select(Losses).ToList();
            // Other training in between (a GPT, a probe of another seed), then freed memory full of NaN.
            var other = new Gpt(new GptConfig(VocabSize: 50, ContextLength: 16, Layers: 1, Heads: 2, Dim: 32));
            new Trainer(other, new TrainerOptions(5, ShowProgress: false)).Run(s =>
                new StepResult(nn.functional.cross_entropy(other.forward(randint(50, new long[] { 4, 16 })).reshape(-1, 50), randint(50, new long[] { 64 }))));
            ProbeNetwork.Trained(KitRecipes.Probe(RunScale.Tiny, seed: 9), CPU).Dispose();
            PoisonFreedMemory();
            GC.Collect();
            var second = specs.Select(Losses).ToList();
            for (int i = 0; i < specs.Length; i++)
            {
                Assert.All(first[i], bits => Assert.True(double.IsFinite(BitConverter.Int64BitsToDouble(bits))));
                Assert.Equal(first[i], second[i]); // bit for bit
            }
        }
        finally { Environment.SetEnvironmentVariable("KIT_CACHE", previous); }
    }
}
