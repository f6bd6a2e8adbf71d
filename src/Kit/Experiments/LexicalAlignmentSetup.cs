// Notebook 06's set-up: LexVLA's lexical alignment over the kit's frozen MAE backbone and its text-pretrained GPT
// (notebook 07's, shared through the cache). Every split carries its scenes' backbone features and one caption each.
using Kit.Backbones;
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Language;
using Kit.Lexical;
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

/// <summary>One lexical run: its text side (targets and, for the LM, which states a caption is read from), sparsity term and
/// backbone.</summary>
public sealed record LexicalRunConfig(TextTarget Text = TextTarget.LanguageModel, SparsityKind Sparsity = SparsityKind.Overuse,
    LexicalBackbone Backbone = LexicalBackbone.SelfSupervised,
    TextReadout Readout = TextReadout.LastToken)
{
    /// <summary>"LM text, overuse, MAE backbone" (with ", caption-pooled" when the LM is read at every caption position).</summary>
    public string Describe() =>
        $"{(Text == TextTarget.LanguageModel ? "LM text" : "BoW text")}, {(Sparsity == SparsityKind.Flops ? "FLOPs" : "overuse")}, " +
            $"{(Backbone == LexicalBackbone.SelfSupervised ? "MAE backbone" : "caption-aligned backbone")}" +
        (Text == TextTarget.LanguageModel && Readout == TextReadout.CaptionPooled ? ", caption-pooled" : "");
}

/// <summary>Sizes of notebook 06 at one scale.</summary>
/// <param name="Backbone">The frozen MAE ViT (notebook 04's).</param>
/// <param name="Text">The shared text model's recipe: its corpus, vocabulary, GPT and text pretraining give the text side.</param>
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
/// <param name="EmbeddingDim">The dense baseline's width d, and the top-k budget (LexVLA compares 512 active dimensions with CLIP's
/// 512).</param>
/// <param name="TextBlocks">The text GPT's last blocks fine-tuned (with its final norm), in place of LoRA; every block at each
/// scale.</param>
public sealed record LexicalExperimentConfig(MaeConfig Backbone, TextModelRecipe Text, int TrainImages, int TestImages,
    int ValidationImages, int FashionImages,
    int Steps, int BatchSize, double LearningRate = 1e-3, double Temperature = 0.05, double SparsityWeight = 0.1, int EmbeddingDim = 64,
        long Seed = 0,
    int TextBlocks = 1)
{
    /// <summary>The experiment at <paramref name="scale"/>.</summary>
    public static LexicalExperimentConfig For(RunScale scale, long seed = 0)
    {
        var text = KitRecipes.Text(scale, seed);
        // Every block of the small text GPT is fine-tuned: with only its last one, its last-position state barely moves
        // towards the captions' words (the notebook's claims section gives the figures).
        return new(Backbone: KitRecipes.Backbone(scale, seed), Text: text,
            TrainImages: scale.Pick(64, 2048, 8192, 20_000), TestImages: scale.Pick(32, 256, 512, 1000), ValidationImages: scale.Pick(16,
                128, 256, 512),
            FashionImages: scale.Pick(0, 500, 1000, 10_000), Steps: scale.Pick(4, 80, 600, 3000), BatchSize: scale.Pick(16, 64, 64,
                128), Seed: seed,
            TextBlocks: text.Shape.Layers);
    }

    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public LexicalExperimentConfig Validate()
    {
        if (Steps < 1) throw new ArgumentException($"Steps={Steps}: expected at least 1.", nameof(Steps));
        if (BatchSize < 2) throw new ArgumentException($"BatchSize={BatchSize}: InfoNCE needs at least 2 pairs per batch.",
            nameof(BatchSize));
        if (TrainImages < BatchSize) throw new ArgumentException($"TrainImages={TrainImages}: expected at least one batch ({BatchSize}).",
            nameof(TrainImages));
        if (!(Temperature > 0)) throw new ArgumentException($"Temperature={Temperature}: expected > 0.", nameof(Temperature));
        if (!(SparsityWeight >= 0)) throw new ArgumentException($"SparsityWeight={SparsityWeight}: expected ≥ 0.", nameof(SparsityWeight));
        if (EmbeddingDim < 1) throw new ArgumentException($"EmbeddingDim={EmbeddingDim}: expected at least 1.", nameof(EmbeddingDim));
        if (TextBlocks < 1 || TextBlocks > Text.Shape.Layers)
            throw new ArgumentException($"TextBlocks={TextBlocks}: expected 1…{Text.Shape.Layers} (the text GPT's blocks).",
                nameof(TextBlocks));
        return this;
    }
}

/// <summary>Scenes with their backbone features and one caption each.</summary>
public sealed record LexicalSplit(ImageBatch Scenes, Tensor Features, IReadOnlyList<string> Captions)
{
    /// <summary>The features passed through <paramref name="tower"/> (256 scenes at a time, no gradient), or as they are when it is
    /// null.</summary>
    public Tensor Through(Func<Tensor, Tensor>? tower)
    {
        if (tower is null) return Features;
        using var noGrad = no_grad();
        return Scopes.InChunks(Features.shape[0], 256, (start, n) => tower(Features.narrow(0, start, n)));
    }
}

/// <summary>What every run of the notebook shares.</summary>
/// <param name="TextModel">The text-pretrained GPT (never changed: each run fine-tunes its own copy).</param>
/// <param name="TextPerplexity">Its held-out perplexity on the synthetic text.</param>
public sealed record LexicalSetup(LexicalExperimentConfig Config, RunScale Scale, Device Device, PretrainedBackbone Backbone,
    UnifiedVocabulary Vocabulary,
    Lexicon Lexicon, Gpt TextModel, object TextKey, double TextPerplexity, LexicalSplit Train, LexicalSplit Validation, LexicalSplit Test,
        LexicalSplit? Fashion)
{
    /// <summary>Patches per side.</summary>
    public int Grid => Backbone.Vit.GridHeight;
}

/// <summary>Notebook 06's set-up.</summary>
public static partial class LexicalAlignmentExperiment
{
    /// <summary>Loads (or trains) the backbone and the text model; builds the lexicon; computes every split's features.</summary>
    public static LexicalSetup Prepare(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var config = LexicalExperimentConfig.For(scale, seed).Validate();
        var backbone = MaskedAutoencoder.Pretrained(config.Backbone, device);
        var text = KitRecipes.TextModel(config.Text, device);
        var (vocabulary, corpus, textKey) = (text.Vocabulary, text.Corpus, text.Key);
        var lexicon = Lexicon.Build(vocabulary.Text, corpus.Train);
        LexicalSplit Shapes(int count, Split split, long offset, int templateShift)
        {
            var scenes = new ShapesDataset(count, split, new ShapesOptions(Resolution: backbone.Vit.ImageSize, Seed: seed
                + offset)).Batch(0, count).To(device);
            var captions = scenes.Scenes!.Select((s, i) => s.Caption((i + templateShift) % ShapesScene.CaptionTemplates)).ToList();
            return new LexicalSplit(scenes, backbone.Vit.FeaturesOf(scenes.Images, device), captions);
        }
        LexicalSplit? fashion = null;
        if (config.FashionImages > 0 && FashionMnist.IsAvailable && backbone.Vit.ImageSize == 32)
        {
            var set = FashionMnist.Load(Split.Test, limit: config.FashionImages);
            var batch = set.Batch(Enumerable.Range(0, set.Count), channels: backbone.Vit.Config.Channels).To(device);
            fashion = new LexicalSplit(batch, backbone.Vit.FeaturesOf(batch.Images, device), batch.Captions);
        }
        return new LexicalSetup(config, scale, device, backbone, vocabulary, lexicon, text.Model.Gpt, textKey, text.Perplexity,
            Train: Shapes(config.TrainImages, Split.Train, 71, 0), Validation: Shapes(config.ValidationImages, Split.Validation, 72, 0),
            Test: Shapes(config.TestImages, Split.Test, 73, 0), Fashion: fashion);
    }
}
