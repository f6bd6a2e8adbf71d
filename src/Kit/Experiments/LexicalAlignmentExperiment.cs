// Notebook 06 as functions: every run trains on the same Shapes captions for the same steps (Lexical/ContrastiveTraining)
// and is scored the same way through the dual-encoder contract: retrieval both ways, sparsity and the share of activation
// on words no Shapes scene uses (lexical runs), PatchDis mIoU (shapes and colours) and, where Fashion-MNIST is installed,
// zero-shot classification by class-name prompts.
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Lexical;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>A trained (or loaded) run: its encoder, the features its image side reads, and its training record.</summary>
/// <param name="Config">The lexical run's settings (null for the dense baseline).</param>
/// <param name="Tower">What the image side applies to the backbone's features first (the dense tower's adapter), or null.</param>
/// <param name="AlignedTower">The dense baseline's adapter, which a caption-aligned lexical run reads through (null for lexical
/// runs).</param>
public sealed record LexicalRun(string Name, LexicalRunConfig? Config, IDualEncoder Encoder, Func<Tensor, Tensor>? Tower,
    Func<Tensor, Tensor>? AlignedTower,
    object Key, TrainingLog Log, double Seconds, bool FromCache)
{
    /// <summary>The features this run's image side reads for <paramref name="split"/>.</summary>
    public Tensor FeaturesOf(LexicalSplit split) => split.Through(Tower);
}

/// <summary>Everything a run is scored on.</summary>
/// <param name="Retrieval">Image ↔ text retrieval with the run's retrieval vectors (lexical: the 1/√V cut).</param>
/// <param name="TopK">Lexical runs: retrieval with each vector kept to its EmbeddingDim largest entries.</param>
/// <param name="ImageActive">Active entries per image (mean, std); NaN for dense.</param>
/// <param name="TextActive">Per caption.</param>
/// <param name="MeaninglessImage">Share of the images' activation mass on entries outside the Shapes words.</param>
/// <param name="MeaninglessText">The same for the captions.</param>
/// <param name="ZeroShot">Fashion-MNIST accuracy by class-name prompts (NaN when not installed or the image side reads another
/// tower).</param>
/// <param name="ImageVectors">The images' retrieval vectors before normalising (lexical: after the cut).</param>
public sealed record LexicalScores(string Name, LexicalRun Run, RetrievalScores Retrieval, RetrievalScores? TopK, (double Mean,
    double Std) ImageActive,
    (double Mean,
        double Std) TextActive, double MeaninglessImage, double MeaninglessText, PatchDisScores Shapes, PatchDisScores Colours,
            double ZeroShot,
    Tensor ImageVectors)
{
    /// <summary>R@1 averaged over both directions.</summary>
    public double MeanR1 => (Retrieval.ImageToText[1] + Retrieval.TextToImage[1]) / 2;
}

/// <summary>The steps of notebook 06.</summary>
public static partial class LexicalAlignmentExperiment
{
    const int Version = 1;

    static ContrastiveTrainingConfig Loop(LexicalExperimentConfig c) => new(c.Steps, c.BatchSize, c.LearningRate, c.Seed);

    /// <summary>A lexical run of <paramref name="run"/> (cached); a caption-aligned backbone needs the dense run whose tower it
    /// reads.</summary>
    public static LexicalRun TrainLexical(LexicalSetup s, LexicalRunConfig run, LexicalRun? dense = null)
    {
        var c = s.Config;
        var tower = run.Backbone == LexicalBackbone.SelfSupervised ? null : dense?.AlignedTower
            ?? throw new ArgumentException("a caption-aligned backbone reads the dense baseline's image tower: pass its run as dense.",
                nameof(dense));
        var features = s.Train.Through(tower);
        var key = new
        {
            Backbone = s.Backbone.Key, Text = s.TextKey, Lexicon = s.Lexicon.Count, c.TrainImages, c.Steps, c.BatchSize, c.LearningRate,
                c.Temperature,
            c.SparsityWeight, c.Seed, c.TextBlocks, run, Tower = tower is null ? null : dense!.Key,
        };
        var log = new TrainingLog();
        var artifact = ArtifactCache.Get("lexvla", key, Version, () =>
        {
            manual_seed(c.Seed + 1);
            return new LexicalDualEncoder((int)features.shape[2], s.Lexicon, new PromptedText(s.TextModel, s.Vocabulary, c.TextBlocks),
                run.Text, run.Readout)
                .to(s.Device);
        }, m =>
        {
            log = ContrastiveTraining.Train(m, s.Train.Scenes.Scenes!, features, Loop(c), $"LexVLA ({run.Describe()})",
                (images, captions) => ContrastiveTraining.LexicalLoss(m, images, captions, c.Temperature, run.Sparsity, c.SparsityWeight));
            return null;
        });
        Freeze(artifact.Model);
        return new LexicalRun(run.Describe() + (run.Text == TextTarget.LanguageModel ? TunedNote(c) : ""), run, artifact.Model,
            Tower: tower, AlignedTower: null,
            key, log, artifact.Seconds, artifact.FromCache);
    }

    /// <summary>The dense CLIP-style baseline (cached), its text tower read as <paramref name="readout"/> says.</summary>
    public static LexicalRun TrainDense(LexicalSetup s, TextReadout readout = TextReadout.LastToken)
    {
        var c = s.Config;
        var name = $"dense (d = {c.EmbeddingDim}{(readout == TextReadout.CaptionPooled ? ", caption-pooled" : "")}{TunedNote(c)})";
        var key = new
        {
            Backbone = s.Backbone.Key, Text = s.TextKey, c.TrainImages, c.Steps, c.BatchSize, c.LearningRate, c.Temperature, c.EmbeddingDim,
                c.Seed,
            c.TextBlocks, Readout = readout,
        };
        var log = new TrainingLog();
        var artifact = ArtifactCache.Get("lexvla-dense", key, Version, () =>
        {
            manual_seed(c.Seed + 2);
            return new DenseDualEncoder(s.Backbone.Vit.Dim, new PromptedText(s.TextModel, s.Vocabulary, c.TextBlocks), c.EmbeddingDim,
                readout: readout).to(s.Device);
        }, m =>
        {
            log = ContrastiveTraining.Train(m, s.Train.Scenes.Scenes!, s.Train.Features, Loop(c), name,
                (images, captions) => ContrastiveTraining.DenseLoss(m, images, captions, c.Temperature));
            return null;
        });
        Freeze(artifact.Model);
        return new LexicalRun(name, null, artifact.Model, Tower: null, AlignedTower: artifact.Model.AdaptedPatches, key, log,
            artifact.Seconds, artifact.FromCache);
    }

    // A run's name says when its text GPT is tuned in fewer than all of its blocks (the default tunes every block).
    static string TunedNote(LexicalExperimentConfig c) =>
        c.TextBlocks < c.Text.Shape.Layers ? $", last {c.TextBlocks} of {c.Text.Shape.Layers} text blocks tuned" : "";

    static void Freeze(nn.Module model)
    {
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
    }

    /// <summary>Scores <paramref name="run"/> on the held-out scenes (and Fashion-MNIST when installed).</summary>
    public static LexicalScores Evaluate(LexicalSetup s, LexicalRun run)
    {
        // Every intermediate (patch scores are [images, patches, V]) is freed here; the scores keep their own tensors.
        using var scope = NewDisposeScope();
        var scores = Score(s, run);
        scores.ImageVectors.MoveToOuterDisposeScope();
        scores.Shapes.Labels.MoveToOuterDisposeScope();
        scores.Colours.Labels.MoveToOuterDisposeScope();
        return scores;
    }

    static LexicalScores Score(LexicalSetup s, LexicalRun run)
    {
        using var noGrad = no_grad();
        var e = run.Encoder;
        var test = s.Test;
        var right = Retrieval.SameCaption(test.Captions, s.Device);
        var testFeatures = run.FeaturesOf(test);
        // Each side encoded once: retrieval, the top-k budget and the statistics all read these vectors.
        var images = e.EncodeImages(testFeatures);
        var texts = Chunked(test.Captions, e.EncodeTexts);
        var retrieval = Retrieval.Score(e.ForRetrieval(images).MatmulChecked(e.ForRetrieval(texts).t()), right);
        // A lexical run's statistics read its vectors before the cut (top-k) and after it (active entries, meaningless share).
        var (vImg, vTxt) = e.HasWords ? (LexicalVectors.Sparsify(images), LexicalVectors.Sparsify(texts)) : (images, texts);
        RetrievalScores? topK = null;
        (double, double) imageActive = (double.NaN, double.NaN), textActive = (double.NaN, double.NaN);
        double meaninglessImage = double.NaN, meaninglessText = double.NaN;
        if (e.HasWords)
        {
            int k = Math.Min(s.Config.EmbeddingDim, s.Lexicon.Count);
            topK = Retrieval.Score(LexicalVectors.Normalise(LexicalVectors.TopK(images, k))
                .MatmulChecked(LexicalVectors.Normalise(LexicalVectors.TopK(texts, k)).t()), right);
            var meaningless = s.Lexicon.ShapesMask(s.Device).logical_not().to(float32);
            double Meaningless(Tensor v) => (v * meaningless).sum().item<float>() / Math.Max(1e-12, v.sum().item<float>());
            (double, double) Active(Tensor v)
            {
                var a = LexicalVectors.ActiveCount(v);
                return (a.mean().item<float>(), a.std().item<float>());
            }
            (imageActive, textActive) = (Active(vImg), Active(vTxt));
            (meaninglessImage, meaninglessText) = (Meaningless(vImg), Meaningless(vTxt));
        }
        // Each split's patch vectors once, for both class sets.
        var (validationPatches, testPatches) = (e.PatchVectors(run.FeaturesOf(s.Validation)), e.PatchVectors(testFeatures));
        PatchDisScores PatchDis(string name, IReadOnlyList<string> classes, Func<ImageBatch, Tensor> masks) => PatchDisProtocol.Score(name,
            e.EncodeTexts(classes.Select(c => $"a {c}").ToList()), new PatchDisSplit(validationPatches, masks(s.Validation.Scenes)),
            new PatchDisSplit(testPatches, masks(test.Scenes)), s.Grid, s.Config.Seed);
        var shapes = PatchDis("shapes", ShapesMasks.ShapeClasses, ShapesMasks.Shapes);
        var colours = PatchDis("colours", ShapesMasks.ColourClasses, ShapesMasks.Colours);
        // Zero-shot reads the backbone's features of Fashion-MNIST: a run whose image side reads another tower has none.
        double zeroShot = s.Fashion is { } f && run.Tower is null
            ? ZeroShotClassification.Accuracy(e.RetrievalImages,
                e.EncodeTexts(FashionMnist.ClassNames.Select(n => $"a picture of a {n}").ToList()),
                f.Features, f.Scenes.Labels!)
            : double.NaN;
        return new LexicalScores(Name: run.Name, Run: run, Retrieval: retrieval, TopK: topK, ImageActive: imageActive,
            TextActive: textActive, MeaninglessImage: meaninglessImage, MeaninglessText: meaninglessText, Shapes: shapes, Colours: colours,
            ZeroShot: zeroShot, ImageVectors: vImg);
    }

    static Tensor Chunked(IReadOnlyList<string> captions, Func<IReadOnlyList<string>, Tensor> encode) =>
        cat(captions.Chunk(256).Select(chunk => encode(chunk.ToList())).ToList(), 0);
}
