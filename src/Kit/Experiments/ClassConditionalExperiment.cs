// VQGAN's second stage on real images, in the setting VQGAN and MAGVIT-v2 report (class-conditional ImageNet) at
// Fashion-MNIST size: a tokenizer trained on Fashion-MNIST, an AR prior (the kit's GPT) on "a photo of a sneaker" → codes, and the
// samples judged by a frozen Fashion-MNIST classifier (class accuracy of class-conditional samples, against the 10 %
// of guessing among ten balanced classes) and by Fréchet distance in its feature space. Needs the dataset installed.
using System.Diagnostics;
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Language;
using Kit.Notebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>Sizes of the class-conditional experiment at one scale.</summary>
public sealed record ClassConditionalConfig(ProbeConfig Probe, TokenizerConfig Tokenizer, QuantizerSpec Quantizer,
    TokenizerTrainingConfig TokenizerTraining,
    GptShape Model, LanguageTrainingConfig Training, int TrainImages, int SamplesPerClass, double Guidance = 3.0, double Temperature = 1.0,
        long Seed = 0)
{
    /// <summary>The experiment at <paramref name="scale"/>; the default is sized for a few minutes of a 2-core CPU.</summary>
    public static ClassConditionalConfig For(RunScale scale, long seed = 0) => new(
        Probe: new ProbeConfig(Task: ProbeTask.FashionClasses, Steps: scale.Pick(10, 100, 300, 1500), TrainImages: scale.Pick(64, 2048,
            8192, 54_000), Seed: seed),
        Tokenizer: KitRecipes.Tokenizer(scale),
        Quantizer: new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 256, KmeansInit: true, DeadCodeThreshold: 1.0),
        TokenizerTraining: KitRecipes.TokenizerTraining(scale, seed) with { Steps = scale.Pick(6, 60, 300, 1500),
            Data = TokenizerData.FashionMnist },
        Model: new GptShape(Layers: scale.Pick(1, 2, 2, 2), Heads: 4, Dim: scale.Pick(32, 96, 128, 256), ContextLength: 80),
        Training: new LanguageTrainingConfig(Steps: scale.Pick(4, 60, 400, 3000), BatchSize: scale.Pick(8, 32, 32, 32), LearningRate: 2e-3,
            Seed: seed),
        TrainImages: scale.Pick(64, 2048, 8192, 54_000), SamplesPerClass: scale.Pick(1, 4, 20, 100), Seed: seed);
}

/// <summary>
/// What the experiment measured. The probe's accuracy on real test images and on their reconstructions bounds what samples can
/// reach; Accuracy is the share of samples the probe reads as the class they were asked for (chance: 1 / classes); PerClass
/// splits it by requested class; Samples [classes × SamplesPerClass, 3, 32, 32] are grouped by class (Requested).
/// </summary>
public sealed record ClassConditionalResult(TokenizerRun Tokenizer, double ProbeOnReal, double ProbeOnReconstructions, double Accuracy,
    double Chance,
    IReadOnlyList<double> PerClass, double FrechetDistance, Tensor Samples, IReadOnlyList<int> Requested, double PriorSeconds)
{
    /// <summary>One row: the tokenizer, the probe's ceiling, class accuracy beside chance, FD.</summary>
    public ResultTable Table()
        => ResultTable.Of("Class-conditional generation on Fashion-MNIST (VQGAN's and MAGVIT-v2's ImageNet setting, at 32×32)",
            new[] { this },
        new TableColumn<ClassConditionalResult>[]
        {
            new("tokenizer", r => r.Tokenizer.Key.Quantizer.Describe()),
            new("recon PSNR dB", r => r.Tokenizer.Metrics.Psnr),
            new("probe on real %", r => 100 * r.ProbeOnReal),
            new("probe on reconstructions %", r => 100 * r.ProbeOnReconstructions),
            new("samples of the asked class %", r => 100 * r.Accuracy),
            new("chance %", r => 100 * r.Chance),
            new("FD (probe)", r => r.FrechetDistance),
            new("prior train s", r => double.IsNaN(r.PriorSeconds) ? "cached" : r.PriorSeconds),
        }, note: "A frozen Fashion-MNIST classifier reads each sample's class; chance is guessing among the ten balanced classes. " +
        "Probe on reconstructions: the test images decoded from their own codes, the most a sample can be expected to reach.",
            measured: new[] { "prior train s" });

    /// <summary>Class accuracy of the samples split by requested class.</summary>
    public ResultTable PerClassTable() => ResultTable.Of("Samples read as the class they were asked for",
        Enumerable.Range(0, PerClass.Count), new TableColumn<int>[]
        {
            new("class", c => FashionMnist.ClassNames[c]),
            new("prompt", c => FashionMnist.Caption(c)),
            new("right %", c => 100 * PerClass[c]),
        });
}

/// <summary>Runs the class-conditional experiment.</summary>
public static class ClassConditionalExperiment
{
    /// <summary>Trains (or loads) the probe, tokenizer and prior, samples every class and judges the samples.</summary>
    public static ClassConditionalResult Run(ClassConditionalConfig config, Device? device = null)
    {
        device ??= Devices.Default;
        var probe = ProbeNetwork.Trained(config.Probe, device);
        var tokenizer = TokenizerTraining.Run(config.Tokenizer, config.Quantizer, config.TokenizerTraining, probe, device);
        var classes = FashionMnist.ClassNames.Count;
        var captions = Enumerable.Range(0, classes).Select(FashionMnist.Caption).ToList();
        var vocabulary = new UnifiedVocabulary(TextTokenizer.Fit(captions), (int)tokenizer.Tokenizer.CodebookSize);

        using var train = TokenizerTraining.Images(config.TokenizerTraining, Split.Train, config.TrainImages);
        using var codes = tokenizer.Tokenizer.EncodeAll(train.Images, device);
        var sequences = new UnifiedSequences(vocabulary, VisualCorpus.Captioned(train.Captions, codes), Array.Empty<string>(),
            SequenceMix.TextToImageOnly);
        var prior = UnifiedTraining.Train("class-conditional prior", UnifiedModelConfig.For(vocabulary, config.Model.Over(vocabulary,
            visualSoftmax: false)), sequences,
            config.Training, new { Tokenizer = tokenizer.Key, config.TrainImages, TextIds = vocabulary.TextCount }, device: device);
        var model = prior.Model;
        double seconds = prior.Seconds;

        var requested = Enumerable.Range(0, classes).SelectMany(c => Enumerable.Repeat(c, config.SamplesPerClass)).ToList();
        var pipeline = new UnifiedPipeline(model, vocabulary, tokenizer.Tokenizer);
        var options = new SamplingOptions(Temperature: config.Temperature, Guidance: config.Guidance, Seed: config.Seed);
        var samples = pipeline.GenerateImages(requested.Select(c => captions[c]).ToList(), options, chunk: 40);
        var predicted = probe.Classes(samples);
        var perClass = Enumerable.Range(0, classes)
            .Select(c => GenerationMetrics.ClassAccuracy(predicted.Where((_, i) => requested[i] == c).ToList(),
                requested.Where(r => r == c).ToList())).ToList();

        using var test = TokenizerTraining.Images(config.TokenizerTraining, Split.Test, requested.Count);
        var (real, reconstructed) = ProbeOnTest(probe, tokenizer.Tokenizer, test, device);
        double fd = UnifiedEvaluation.ProbeFrechet(probe, samples, test.Images);
        // The result keeps the tokenizer and the samples; the prior and the classifier end here.
        model.Dispose();
        probe.Dispose();
        return new ClassConditionalResult(tokenizer, real, reconstructed, GenerationMetrics.ClassAccuracy(predicted, requested),
            1.0 / classes, perClass,
            fd, samples, requested, seconds);
    }

    // The probe's class accuracy on real test images and on the tokenizer's reconstructions of them.
    static (double Real, double Reconstructed) ProbeOnTest(ProbeNetwork probe, ImageTokenizer tokenizer, ImageBatch test, Device device)
    {
        var labels = test.Labels!.data<long>().Select(l => (int)l).ToList();
        using var noGrad = no_grad();
        using var reconstructed = Scopes.InChunks(test.Count, 128, (start, n) =>
        {
            var images = test.Images.narrow(0, start, n).to(device);
            return tokenizer.Decode(tokenizer.Encode(images)).clamp(-1, 1);
        });
        return (GenerationMetrics.ClassAccuracy(probe.Classes(test.Images), labels),
            GenerationMetrics.ClassAccuracy(probe.Classes(reconstructed), labels));
    }
}
