// Notebook 06 as functions: LexVLA's lexical alignment over the kit's frozen MAE backbone and its text-pretrained GPT
// (notebook 07's, shared through the cache). Every run trains on the same Shapes captions for the same steps and is
// scored the same way: retrieval both ways, sparsity, the share of activation on words no Shapes scene uses, PatchDis
// mIoU (shapes and colours) and, where Fashion-MNIST is installed, zero-shot classification by class-name prompts.
using System.Diagnostics;
using Kit.Backbones;
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Language;
using Kit.Lexical;
using Kit.Notebook;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>Which frozen features a lexical image encoder reads.</summary>
public enum LexicalBackbone
{
    /// <summary>The kit's MAE ViT, pretrained without labels (LexVLA's DINOv2 stand-in).</summary>
    SelfSupervised,
    /// <summary>The dense baseline's trained image tower (backbone + adapter), aligned with captions (LexVLA's CLIP stand-in).</summary>
    CaptionAligned,
}

/// <summary>One lexical run: its text side (targets and, for the LM, which states a caption is read from), sparsity term and backbone.</summary>
public sealed record LexicalRunConfig(TextTarget Text = TextTarget.LanguageModel, SparsityKind Sparsity = SparsityKind.Overuse, LexicalBackbone Backbone = LexicalBackbone.SelfSupervised,
    TextReadout Readout = TextReadout.LastToken)
{
    /// <summary>"LM text, overuse, MAE backbone" (with ", caption-pooled" when the LM is read at every caption position).</summary>
    public string Describe() =>
        $"{(Text == TextTarget.LanguageModel ? "LM text" : "BoW text")}, {(Sparsity == SparsityKind.Flops ? "FLOPs" : "overuse")}, {(Backbone == LexicalBackbone.SelfSupervised ? "MAE backbone" : "caption-aligned backbone")}" +
        (Text == TextTarget.LanguageModel && Readout == TextReadout.CaptionPooled ? ", caption-pooled" : "");
}

/// <summary>Sizes of notebook 06 at one scale.</summary>
/// <param name="Backbone">The frozen MAE ViT (notebook 04's).</param>
/// <param name="Llm">Notebook 07's config: its corpus, vocabulary, GPT and text pretraining give the text side.</param>
/// <param name="TrainImages">Shapes training scenes (each with its three captions).</param>
/// <param name="TestImages">Held-out scenes for retrieval and PatchDis.</param>
/// <param name="ValidationImages">Scenes on which the PatchDis background threshold is chosen.</param>
/// <param name="FashionImages">Fashion-MNIST test images for zero-shot classification (0 or not installed: skipped).</param>
/// <param name="Steps">Training steps of every run.</param>
/// <param name="BatchSize">Pairs per step (InfoNCE's negatives are the batch).</param>
/// <param name="LearningRate">Peak learning rate (warm-up, cosine).</param>
/// <param name="Temperature">InfoNCE's temperature, fixed (the kit's; LexVLA's is not public).</param>
/// <param name="SparsityWeight">Weight of the sparsity term (on the image and the text vectors). The kit's 0.1: at 1 the
/// term outweighs InfoNCE on these small towers and costs retrieval (the notebook's intro gives the figures).</param>
/// <param name="EmbeddingDim">The dense baseline's width d, and the top-k budget (LexVLA compares 512 active dimensions with CLIP's 512).</param>
/// <param name="TextBlocks">The text GPT's last blocks fine-tuned (with its final norm), in place of LoRA; every block at each scale.</param>
public sealed record LexicalExperimentConfig(MaeConfig Backbone, UnifiedLlmConfig Llm, int TrainImages, int TestImages, int ValidationImages, int FashionImages,
    int Steps, int BatchSize, double LearningRate = 1e-3, double Temperature = 0.05, double SparsityWeight = 0.1, int EmbeddingDim = 64, long Seed = 0,
    int TextBlocks = 1)
{
    /// <summary>The experiment at <paramref name="scale"/>.</summary>
    public static LexicalExperimentConfig For(RunScale scale, long seed = 0)
    {
        var llm = UnifiedLlmConfig.For(scale, seed);
        // Every block of the small text GPT is fine-tuned: with only its last one, its last-position state barely moves
        // towards the captions' words (the notebook's claims section gives the figures).
        return new(Backbone: KitRecipes.Backbone(scale, seed), Llm: llm,
            TrainImages: scale.Pick(64, 2048, 8192, 20_000), TestImages: scale.Pick(32, 256, 512, 1000), ValidationImages: scale.Pick(16, 128, 256, 512),
            FashionImages: scale.Pick(0, 500, 1000, 10_000), Steps: scale.Pick(4, 80, 600, 3000), BatchSize: scale.Pick(16, 64, 64, 128), Seed: seed,
            TextBlocks: llm.Model.Layers);
    }

    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public LexicalExperimentConfig Validate()
    {
        if (Steps < 1) throw new ArgumentException($"Steps={Steps}: expected at least 1.", nameof(Steps));
        if (BatchSize < 2) throw new ArgumentException($"BatchSize={BatchSize}: InfoNCE needs at least 2 pairs per batch.", nameof(BatchSize));
        if (TrainImages < BatchSize) throw new ArgumentException($"TrainImages={TrainImages}: expected at least one batch ({BatchSize}).", nameof(TrainImages));
        if (!(Temperature > 0)) throw new ArgumentException($"Temperature={Temperature}: expected > 0.", nameof(Temperature));
        if (!(SparsityWeight >= 0)) throw new ArgumentException($"SparsityWeight={SparsityWeight}: expected ≥ 0.", nameof(SparsityWeight));
        if (EmbeddingDim < 1) throw new ArgumentException($"EmbeddingDim={EmbeddingDim}: expected at least 1.", nameof(EmbeddingDim));
        if (TextBlocks < 1 || TextBlocks > Llm.Model.Layers) throw new ArgumentException($"TextBlocks={TextBlocks}: expected 1…{Llm.Model.Layers} (the text GPT's blocks).", nameof(TextBlocks));
        return this;
    }
}

/// <summary>Scenes with their backbone features and one caption each.</summary>
public sealed record LexicalSplit(ImageBatch Scenes, Tensor Features, IReadOnlyList<string> Captions);

/// <summary>What every run of the notebook shares.</summary>
/// <param name="TextModel">The text-pretrained GPT (never changed: each run fine-tunes its own copy).</param>
/// <param name="TextPerplexity">Its held-out perplexity on the synthetic text.</param>
public sealed record LexicalSetup(LexicalExperimentConfig Config, RunScale Scale, Device Device, PretrainedBackbone Backbone, UnifiedVocabulary Vocabulary,
    Lexicon Lexicon, Gpt TextModel, object TextKey, double TextPerplexity, LexicalSplit Train, LexicalSplit Validation, LexicalSplit Test, LexicalSplit? Fashion)
{
    /// <summary>Patches per side.</summary>
    public int Grid => Backbone.Vit.GridHeight;
}

/// <summary>A trained (or loaded) run: a lexical or a dense model, its features' source and its training record.</summary>
public sealed record LexicalRun(string Name, LexicalRunConfig? Config, LexicalDualEncoder? Lexical, DenseDualEncoder? Dense, object Key, TrainingLog Log, double Seconds)
{
    public bool FromCache => double.IsNaN(Seconds);
}

/// <summary>PatchDis for one class set (shapes or colours).</summary>
public sealed record PatchDisScores(string Classes, double MeanIoU, double ChanceIoU, double Threshold, Tensor Labels);

/// <summary>Everything a run is scored on.</summary>
/// <param name="Retrieval">Image ↔ text retrieval with the run's inference vectors (lexical: the 1/√V cut).</param>
/// <param name="TopK">Lexical runs: retrieval with each vector kept to its EmbeddingDim largest entries.</param>
/// <param name="ImageActive">Active entries per image (mean, std); NaN for dense.</param>
/// <param name="TextActive">Per caption.</param>
/// <param name="MeaninglessImage">Share of the images' activation mass on entries outside the Shapes words.</param>
/// <param name="MeaninglessText">The same for the captions.</param>
/// <param name="ZeroShot">Fashion-MNIST accuracy by class-name prompts (NaN when not installed).</param>
public sealed record LexicalScores(string Name, LexicalRun Run, RetrievalScores Retrieval, RetrievalScores? TopK, (double Mean, double Std) ImageActive, (double Mean, double Std) TextActive,
    double MeaninglessImage, double MeaninglessText, PatchDisScores Shapes, PatchDisScores Colours, double ZeroShot, Tensor ImageVectors)
{
    /// <summary>R@1 averaged over both directions.</summary>
    public double MeanR1 => (Retrieval.ImageToText[1] + Retrieval.TextToImage[1]) / 2;
}

/// <summary>The steps of notebook 06.</summary>
public static class LexicalAlignmentExperiment
{
    const int Version = 1;

    /// <summary>The PatchDis class names: Shapes' five shapes, and its colours.</summary>
    public static readonly IReadOnlyList<string> ShapeClasses = Enum.GetValues<ShapeKind>().Select(ShapeObject.Word).ToList();
    public static readonly IReadOnlyList<string> ColourClasses = Enum.GetValues<ShapeColour>().Select(ShapeObject.Word).ToList();

    /// <summary>Loads (or trains) the backbone and the text model; builds the lexicon; computes every split's features.</summary>
    public static LexicalSetup Prepare(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var config = LexicalExperimentConfig.For(scale, seed).Validate();
        var backbone = MaskedAutoencoder.Pretrained(config.Backbone, device);
        var (vocabulary, corpus, text, textKey) = UnifiedLlmExperiment.TextModel(config.Llm, device);
        var lexicon = Lexicon.Build(vocabulary.Text, corpus.Train);
        LexicalSplit Shapes(int count, Split split, long offset, int templateShift)
        {
            var scenes = new ShapesDataset(count, split, new ShapesOptions(Resolution: backbone.Vit.ImageSize, Seed: seed + offset)).Batch(0, count).To(device);
            var captions = scenes.Scenes!.Select((s, i) => s.Caption((i + templateShift) % ShapesScene.CaptionTemplates)).ToList();
            return new LexicalSplit(scenes, PixelDecoder.Features(backbone.Vit, scenes.Images, device), captions);
        }
        LexicalSplit? fashion = null;
        if (config.FashionImages > 0 && FashionMnist.IsAvailable && backbone.Vit.ImageSize == 32)
        {
            var set = FashionMnist.Load(Split.Test, limit: config.FashionImages);
            var batch = set.Batch(Enumerable.Range(0, set.Count), channels: backbone.Vit.Config.Channels).To(device);
            fashion = new LexicalSplit(batch, PixelDecoder.Features(backbone.Vit, batch.Images, device), batch.Captions);
        }
        return new LexicalSetup(config, scale, device, backbone, vocabulary, lexicon, text.Model.Gpt, textKey, text.Perplexity,
            Shapes(config.TrainImages, Split.Train, 71, 0), Shapes(config.ValidationImages, Split.Validation, 72, 0), Shapes(config.TestImages, Split.Test, 73, 0), fashion);
    }

    /// <summary>A lexical run of <paramref name="run"/> (cached); a caption-aligned backbone needs the dense run whose tower it reads.</summary>
    public static LexicalRun TrainLexical(LexicalSetup s, LexicalRunConfig run, LexicalRun? dense = null)
    {
        var c = s.Config;
        if (run.Backbone == LexicalBackbone.CaptionAligned && dense?.Dense is null)
            throw new ArgumentException("a caption-aligned backbone reads the dense baseline's image tower: pass its run as dense.", nameof(dense));
        var features = Features(s, s.Train, run.Backbone, dense);
        var key = new { Backbone = s.Backbone.Key, Text = s.TextKey, Lexicon = s.Lexicon.Count, c.TrainImages, c.Steps, c.BatchSize, c.LearningRate, c.Temperature, c.SparsityWeight, c.Seed, c.TextBlocks, run,
            Tower = run.Backbone == LexicalBackbone.CaptionAligned ? dense!.Key : null };
        var log = new TrainingLog();
        double seconds = double.NaN;
        var (model, _) = ArtifactCache.GetOrTrain("lexvla", key, Version, () =>
        {
            manual_seed(c.Seed + 1);
            return new LexicalDualEncoder((int)features.shape[2], s.Lexicon, new PromptedText(s.TextModel, s.Vocabulary, c.TextBlocks), run.Text, run.Readout).to(s.Device);
        }, m =>
        {
            var clock = Stopwatch.StartNew();
            log = Train(s, m, $"LexVLA ({run.Describe()})", (images, captions) =>
            {
                var v = m.EncodeImages(images);
                var t = m.EncodeTexts(captions);
                var contrastive = InfoNce.Loss(v, t, c.Temperature);
                var sparsity = SparsityPenalty.Of(run.Sparsity, v);
                if (run.Text == TextTarget.LanguageModel) sparsity = sparsity + SparsityPenalty.Of(run.Sparsity, t);
                var active = LexicalVectors.ActiveCount(LexicalVectors.Sparsify(v.detach())).mean();
                return new StepResult(contrastive + c.SparsityWeight * sparsity, new Dictionary<string, Tensor> { ["infonce"] = contrastive, ["sparsity"] = sparsity, ["active"] = active });
            }, features);
            seconds = clock.Elapsed.TotalSeconds;
        });
        Freeze(model);
        return new LexicalRun(run.Describe() + (run.Text == TextTarget.LanguageModel ? TunedNote(c) : ""), run, model, null, key, log, seconds);
    }

    /// <summary>The dense CLIP-style baseline (cached), its text tower read as <paramref name="readout"/> says.</summary>
    public static LexicalRun TrainDense(LexicalSetup s, TextReadout readout = TextReadout.LastToken)
    {
        var c = s.Config;
        var name = $"dense (d = {c.EmbeddingDim}{(readout == TextReadout.CaptionPooled ? ", caption-pooled" : "")}{TunedNote(c)})";
        var key = new { Backbone = s.Backbone.Key, Text = s.TextKey, c.TrainImages, c.Steps, c.BatchSize, c.LearningRate, c.Temperature, c.EmbeddingDim, c.Seed, c.TextBlocks, Readout = readout };
        var log = new TrainingLog();
        double seconds = double.NaN;
        var (model, _) = ArtifactCache.GetOrTrain("lexvla-dense", key, Version, () =>
        {
            manual_seed(c.Seed + 2);
            return new DenseDualEncoder(s.Backbone.Vit.Dim, new PromptedText(s.TextModel, s.Vocabulary, c.TextBlocks), c.EmbeddingDim, readout: readout).to(s.Device);
        }, m =>
        {
            var clock = Stopwatch.StartNew();
            log = Train(s, m, name, (images, captions) =>
            {
                var loss = InfoNce.Loss(m.EncodeImages(images), m.EncodeTexts(captions), c.Temperature);
                return new StepResult(loss, new Dictionary<string, Tensor> { ["infonce"] = loss });
            }, s.Train.Features);
            seconds = clock.Elapsed.TotalSeconds;
        });
        Freeze(model);
        return new LexicalRun(name, null, null, model, key, log, seconds);
    }

    // A run's name says when its text GPT is tuned in fewer than all of its blocks (the default tunes every block).
    static string TunedNote(LexicalExperimentConfig c) => c.TextBlocks < c.Llm.Model.Layers ? $", last {c.TextBlocks} of {c.Llm.Model.Layers} text blocks tuned" : "";

    static void Freeze(nn.Module model)
    {
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
    }

    // The shared loop: a batch of training scenes, each with one of its captions (the phrasing moves with the step, so
    // every scene is seen in all three), through the run's loss.
    static TrainingLog Train(LexicalSetup s, nn.Module model, string label, Func<Tensor, IReadOnlyList<string>, StepResult> loss, Tensor features)
    {
        var c = s.Config;
        var scenes = s.Train.Scenes.Scenes!;
        var trainer = new Trainer(model, new TrainerOptions(c.Steps, c.LearningRate, WeightDecay: 0.01, WarmupSteps: Math.Max(1, c.Steps / 20), LogEvery: Math.Max(1, c.Steps / 50), Label: label));
        return trainer.Run(step =>
        {
            var rng = KitRandom.For(c.Seed * 17 + 6, step);
            var picks = Enumerable.Range(0, c.BatchSize).Select(_ => rng.Next(scenes.Count)).ToArray();
            var x = features.index_select(0, tensor(picks.Select(i => (long)i).ToArray(), device: features.device));
            var captions = picks.Select((i, j) => scenes[i].Caption((i + step + j) % ShapesScene.CaptionTemplates)).ToList();
            return loss(x, captions);
        });
    }

    // The features a lexical image encoder reads for a split.
    static Tensor Features(LexicalSetup s, LexicalSplit split, LexicalBackbone backbone, LexicalRun? dense)
    {
        if (backbone == LexicalBackbone.SelfSupervised) return split.Features;
        using var noGrad = no_grad();
        return Scopes.InChunks(split.Features.shape[0], 256, (start, n) => dense!.Dense!.AdaptedPatches(split.Features.narrow(0, start, n)));
    }

    /// <summary>Scores <paramref name="run"/> on the held-out scenes (and Fashion-MNIST when installed).</summary>
    public static LexicalScores Evaluate(LexicalSetup s, LexicalRun run, LexicalRun? dense = null)
    {
        // Every intermediate (patch scores are [images, patches, V]) is freed here; the scores keep their own tensors.
        using var scope = NewDisposeScope();
        var scores = Score(s, run, dense);
        scores.ImageVectors.MoveToOuterDisposeScope();
        scores.Shapes.Labels.MoveToOuterDisposeScope();
        scores.Colours.Labels.MoveToOuterDisposeScope();
        return scores;
    }

    static LexicalScores Score(LexicalSetup s, LexicalRun run, LexicalRun? dense)
    {
        using var noGrad = no_grad();
        var test = s.Test;
        var right = Retrieval.SameCaption(test.Captions, s.Device);
        if (run.Dense is { } d)
        {
            var images = d.EncodeImages(test.Features);
            var texts = Chunked(test.Captions, d.EncodeTexts);
            var retrieval = Retrieval.Score(images.MatmulChecked(texts.t()), right);
            PatchDisScores Dense(string name, IReadOnlyList<string> classes, Func<ImageBatch, Tensor> masks) =>
                PatchDis(s, name, classes, masks, split => d.PatchEmbeddings(split.Features), d.EncodeTexts);
            return new LexicalScores(run.Name, run, retrieval, null, (double.NaN, double.NaN), (double.NaN, double.NaN), double.NaN, double.NaN,
                Dense("shapes", ShapeClasses, ShapeMasks), Dense("colours", ColourClasses, ColourMasks), ZeroShot(s, f => d.EncodeImages(f), d.EncodeTexts), images);
        }
        var m = run.Lexical!;
        var backbone = run.Config!.Backbone;
        Tensor ImageVectors(LexicalSplit split) => m.EncodeImages(Features(s, split, backbone, dense));
        // Each side encoded once: the cut and the top-k budget both read the same normalised vectors.
        var full = (Img: ImageVectors(test), Txt: Chunked(test.Captions, m.EncodeTexts));
        var vImg = LexicalVectors.Sparsify(full.Img);
        var vTxt = LexicalVectors.Sparsify(full.Txt);
        var lexicalRetrieval = Retrieval.Score(LexicalVectors.Normalise(vImg).MatmulChecked(LexicalVectors.Normalise(vTxt).t()), right);
        int k = Math.Min(s.Config.EmbeddingDim, s.Lexicon.Count);
        var topK = Retrieval.Score(LexicalVectors.Normalise(LexicalVectors.TopK(full.Img, k)).MatmulChecked(LexicalVectors.Normalise(LexicalVectors.TopK(full.Txt, k)).t()), right);
        var meaningless = s.Lexicon.ShapesMask(s.Device).logical_not();
        double Meaningless(Tensor v) => (v * meaningless.to(float32)).sum().item<float>() / Math.Max(1e-12, v.sum().item<float>());
        (double, double) Active(Tensor v) { var a = LexicalVectors.ActiveCount(v); return (a.mean().item<float>(), a.std().item<float>()); }
        PatchDisScores Lexical(string name, IReadOnlyList<string> classes, Func<ImageBatch, Tensor> masks) =>
            PatchDis(s, name, classes, masks, split => LexicalVectors.Normalise(m.Image.PatchScores(Features(s, split, backbone, dense))), m.EncodeTexts);
        return new LexicalScores(run.Name, run, lexicalRetrieval, topK, Active(vImg), Active(vTxt), Meaningless(vImg), Meaningless(vTxt),
            Lexical("shapes", ShapeClasses, ShapeMasks), Lexical("colours", ColourClasses, ColourMasks),
            backbone == LexicalBackbone.SelfSupervised ? ZeroShot(s, f => LexicalVectors.Normalise(LexicalVectors.Sparsify(m.EncodeImages(f))), m.EncodeTexts) : double.NaN, vImg);
    }

    static Tensor Chunked(IReadOnlyList<string> captions, Func<IReadOnlyList<string>, Tensor> encode) =>
        cat(captions.Chunk(256).Select(chunk => encode(chunk.ToList())).ToList(), 0);

    /// <summary>The class masks of <paramref name="scenes"/>: 0 background, 1 + shape.</summary>
    public static Tensor ShapeMasks(ImageBatch scenes) => scenes.Masks!.to(int64);

    /// <summary>Per-pixel colour classes: 0 background, 1 + the colour of the object there (shapes are distinct within a scene, so the shape class says which object).</summary>
    public static Tensor ColourMasks(ImageBatch scenes)
    {
        var masks = scenes.Masks!.to(int64);
        var table = new long[scenes.Count * 6];   // [image, shape class] → colour class
        for (int i = 0; i < scenes.Count; i++)
            foreach (var o in scenes.Scenes![i].Objects) table[i * 6 + o.ClassId] = (int)o.Colour + 1;
        var lookup = tensor(table, new long[] { scenes.Count, 6 }, device: masks.device);
        long b = masks.shape[0];
        return lookup.gather(1, masks.reshape(b, -1)).reshape(masks.shape);
    }

    // PatchDis: class vectors from the text side ("a circle"), each patch's similarity to them, the background threshold
    // chosen on the validation scenes (the quantile of the patches' best similarity that scores best there), mIoU on the test scenes.
    static PatchDisScores PatchDis(LexicalSetup s, string name, IReadOnlyList<string> classes, Func<ImageBatch, Tensor> masks, Func<LexicalSplit, Tensor> patches,
        Func<IReadOnlyList<string>, Tensor> encodeTexts)
    {
        var classVectors = encodeTexts(classes.Select(c => $"a {c}").ToList());   // [K, D]
        int g = s.Grid, k = classes.Count + 1;
        Tensor Similarity(LexicalSplit split) => patches(split).MatmulChecked(classVectors.t());   // [B, N, K]
        Tensor Pixels(Tensor labels, ImageBatch scenes) => PatchDiscrimination.Upsample(labels, g, g, (int)scenes.Masks!.shape[1], (int)scenes.Masks!.shape[2]);
        var validation = Similarity(s.Validation);
        var best = validation.amax(new long[] { -1 }).reshape(-1).sort().Values.data<float>().ToArray();
        var candidates = Enumerable.Range(0, 20).Select(q => (double)best[q * (best.Length - 1) / 19]).Distinct().ToList();
        var truthValidation = masks(s.Validation.Scenes);
        double threshold = candidates.MaxBy(t => PatchDiscrimination.MeanIoU(Pixels(PatchDiscrimination.Label(validation, t), s.Validation.Scenes), truthValidation, k));
        var labels = PatchDiscrimination.Label(Similarity(s.Test), threshold);
        var truth = masks(s.Test.Scenes);
        var truthPatches = PatchGrid.MajorityClass(truth, g, g, k);
        return new PatchDisScores(name, PatchDiscrimination.MeanIoU(Pixels(labels, s.Test.Scenes), truth, k),
            PatchDiscrimination.ChanceMeanIoU(truthPatches, truth, g, g, k, s.Config.Seed), threshold, labels);
    }

    // Zero-shot Fashion-MNIST: each image given the class whose prompt ("a picture of a coat") its vector is closest to.
    static double ZeroShot(LexicalSetup s, Func<Tensor, Tensor> encodeImages, Func<IReadOnlyList<string>, Tensor> encodeTexts)
    {
        if (s.Fashion is not { } f) return double.NaN;
        var classes = encodeTexts(FashionMnist.ClassNames.Select(n => $"a picture of a {n}").ToList());
        var predicted = Scopes.InChunks(f.Features.shape[0], 256, (start, n) => encodeImages(f.Features.narrow(0, start, n)).MatmulChecked(classes.t()).argmax(-1));
        return predicted.eq(f.Scenes.Labels!.to(predicted.device)).to(float32).mean().item<float>();
    }

    /// <summary>One row per run: retrieval, sparsity, meaningless share, PatchDis and zero-shot.</summary>
    public static ResultTable ScoresTable(LexicalSetup s, string title, IReadOnlyList<LexicalScores> rows, string? note = null)
    {
        var chance = rows[0].Retrieval.Chance;
        string Share(double x) => double.IsNaN(x) ? "—" : (100 * x).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
        return ResultTable.FromRows(title,
            new[] { "run", "R@1 i→t %", "R@5 i→t %", "R@10 i→t %", "R@1 t→i %", "R@5 t→i %", "R@10 t→i %", "active / image", "active / caption", "meaningless: images %", "captions %",
                "PatchDis shapes mIoU", "colours mIoU", "zero-shot Fashion %", "train s" },
            rows.Select(r => (IReadOnlyList<object?>)new object?[]
            {
                r.Name, 100 * r.Retrieval.ImageToText[1], 100 * r.Retrieval.ImageToText[5], 100 * r.Retrieval.ImageToText[10], 100 * r.Retrieval.TextToImage[1], 100 * r.Retrieval.TextToImage[5],
                100 * r.Retrieval.TextToImage[10], double.IsNaN(r.ImageActive.Mean) ? "dense" : $"{r.ImageActive.Mean:0.0} ± {r.ImageActive.Std:0.0}",
                double.IsNaN(r.TextActive.Mean) ? "dense" : $"{r.TextActive.Mean:0.0} ± {r.TextActive.Std:0.0}", Share(r.MeaninglessImage), Share(r.MeaninglessText),
                r.Shapes.MeanIoU, r.Colours.MeanIoU, Share(r.ZeroShot), r.Run.FromCache ? "cached" : r.Run.Seconds,
            }),
            note: note is null ? Legend(s, rows[0]) : note + " " + Legend(s, rows[0]), measured: new[] { "train s" });
    }

    static string Legend(LexicalSetup s, LexicalScores r) =>
        $"{s.Config.TestImages} held-out scenes, one caption each; chance R@1 / 5 / 10 = {100 * r.Retrieval.Chance[1]:0.0} / {100 * r.Retrieval.Chance[5]:0.0} / {100 * r.Retrieval.Chance[10]:0.0} %. " +
        $"Active: entries kept by the 1/√V cut (V = {s.Lexicon.Count:N0}). Meaningless: share of the kept activation on entries that are not Shapes words. " +
        $"PatchDis chance (random patch labels with the truth's frequencies): shapes {r.Shapes.ChanceIoU:0.000}, colours {r.Colours.ChanceIoU:0.000}. " +
        $"Zero-shot: Fashion-MNIST test images by the prompt \"a picture of a …\" over 10 classes (chance 10 %; no Fashion caption was ever trained on){(s.Fashion is null ? $"; skipped: Fashion-MNIST is {FashionMnist.Absence}" : "")}.";

    /// <summary>Retrieval at the 1/√V cut beside a fixed budget of EmbeddingDim entries per vector (LexVLA's 512-dimension comparison with CLIP).</summary>
    public static ResultTable TopKTable(LexicalSetup s, IReadOnlyList<LexicalScores> lexical, LexicalScores dense) => ResultTable.FromRows(
        $"A fixed budget: each lexical vector kept to its {s.Config.EmbeddingDim} largest entries, beside the dense model's {s.Config.EmbeddingDim} dimensions",
        new[] { "run", "vectors", "active / image", "R@1 i→t %", "R@10 i→t %", "R@1 t→i %", "R@10 t→i %" },
        lexical.SelectMany(r => new[]
        {
            (IReadOnlyList<object?>)new object?[] { r.Name, "1/√V cut", r.ImageActive.Mean, 100 * r.Retrieval.ImageToText[1], 100 * r.Retrieval.ImageToText[10], 100 * r.Retrieval.TextToImage[1], 100 * r.Retrieval.TextToImage[10] },
            new object?[] { r.Name, $"top {s.Config.EmbeddingDim}", (double)Math.Min(s.Config.EmbeddingDim, s.Lexicon.Count), 100 * r.TopK!.ImageToText[1], 100 * r.TopK.ImageToText[10], 100 * r.TopK.TextToImage[1], 100 * r.TopK.TextToImage[10] },
        }).Append(new object?[] { dense.Name, "dense", (double)s.Config.EmbeddingDim, 100 * dense.Retrieval.ImageToText[1], 100 * dense.Retrieval.ImageToText[10], 100 * dense.Retrieval.TextToImage[1], 100 * dense.Retrieval.TextToImage[10] }),
        note: "Top-k keeps the k largest entries whether or not they pass the cut, so a budget above the cut's count adds small entries.");

    /// <summary>The top words of the first <paramref name="count"/> held-out images' lexical vectors, with their scores, beside each caption.</summary>
    public static ResultTable TopWords(LexicalSetup s, LexicalScores scores, int count = 8, int words = 6)
    {
        var rows = new List<IReadOnlyList<object?>>();
        for (int i = 0; i < Math.Min(count, s.Config.TestImages); i++)
        {
            var v = scores.ImageVectors[i];
            var (values, index) = v.topk(Math.Min(words, s.Lexicon.Count));
            var top = values.data<float>().Zip(index.data<long>()).Where(p => p.First > 0)
                .Select(p => $"{s.Lexicon.Words[(int)p.Second]}{(s.Lexicon.IsShapesWord[(int)p.Second] ? "" : "*")} {p.First:0.00}");
            rows.Add(new object?[] { i, s.Test.Captions[i], string.Join(", ", top) });
        }
        return ResultTable.FromRows($"What the images are about: top words of {scores.Name}", new[] { "image", "its caption", "top words (score after the cut)" }, rows,
            note: "* marks a word that is not a Shapes word (a meaningless activation for these scenes).");
    }

    /// <summary>One word's activation over one held-out image's patches (the unnormalised patch scores), [grid][grid].</summary>
    public static IReadOnlyList<IReadOnlyList<double>> WordMap(LexicalSetup s, LexicalRun run, int image, string word)
    {
        int j = s.Lexicon.IndexOf(word);
        if (j < 0) throw new ArgumentException($"'{word}' has no entry in the lexicon.", nameof(word));
        if (run.Lexical is null || run.Config!.Backbone != LexicalBackbone.SelfSupervised) throw new ArgumentException("expected a lexical run over the MAE backbone.", nameof(run));
        using var noGrad = no_grad();
        var scores = run.Lexical.Image.PatchScores(s.Test.Features.narrow(0, image, 1))[0, TensorIndex.Colon, j].data<float>().ToArray();
        return Enumerable.Range(0, s.Grid).Select(r => (IReadOnlyList<double>)Enumerable.Range(0, s.Grid).Select(c => (double)scores[r * s.Grid + c]).ToList()).ToList();
    }
}
