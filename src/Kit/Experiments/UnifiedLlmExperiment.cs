// Notebook 07 as functions: notebook 07's fixed-grid image tokenizer, the GPT pretrained on text, then trained on unified
// sequences (LaVIT / UniCode / CM3Leon), judged on captioning, VQA, text-to-image compositional accuracy and Fréchet
// distance, held-out text perplexity before and after; and the survey's two contrasts: classification of discrete visual
// tokens vs regression of continuous embeddings (LaVIT vs Emu), and discrete tokens vs a linear patch projection as the
// input (Fuyu / LLaVA, understanding only). The recipes themselves are shared (LanguageRecipes).
using Kit.Core;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Language;
using Kit.Notebook;
using Kit.Tokenizers;
using static TorchSharp.torch;

namespace Kit.Experiments;

/// <summary>The steps of notebook 07.</summary>
public static class UnifiedLlmExperiment
{
    /// <summary>Trains or loads the probe and notebook 07's fixed-grid tokenizer; builds the unified LLM's data over it.</summary>
    public static UnifiedLlmSetup Prepare(RunScale scale, long seed = 0, Device? device = null)
    {
        device ??= Devices.Default;
        var grid = KitRecipes.GridTokenizer(scale, seed);
        var probe = ProbeNetwork.Trained(KitRecipes.Probe(scale, seed), device);
        var tokenizer = TokenizerTraining.Run(grid.Tokenizer, grid.Quantizer, grid.Training, probe, device);
        return KitRecipes.UnifiedData(KitRecipes.UnifiedLlm(scale, seed), scale, tokenizer.Tokenizer, tokenizer.Key, probe,
            tokenizer.Metrics, device);
    }

    /// <summary>The GPT trained on text alone (cached), and its held-out perplexity (synthetic, WordNet).</summary>
    public static (UnifiedTrainingResult Model, double Perplexity, double WordNetPerplexity) PretrainText(UnifiedLlmSetup s,
        Device? device = null) =>
        KitRecipes.PretrainText(s, device);

    /// <summary>One variant of the visual interface trained from the text model (cached) and judged (<see
    /// cref="KitRecipes.TrainUnified"/>).</summary>
    public static UnifiedLlmResult TrainVariant(UnifiedLlmSetup s, UnifiedModel pretrained, VisualInterface visual, string name,
        Device? device = null) =>
        KitRecipes.TrainUnified(s, pretrained, visual, name, device);

    /// <summary>
    /// The ablation tables, one row per variant: understanding (captions read both ways, each beside its chance level, and
    /// VQA; text perplexity and training time) and generation (text → image beside its chance levels, FD).
    /// </summary>
    public static (ResultTable Understanding, ResultTable Generation) Tables(UnifiedLlmSetup s, IReadOnlyList<UnifiedLlmResult> results,
        double textOnlyPerplexity)
    {
        var understanding = ResultTable.Of("Unified LLM on Shapes: understanding (image → text, VQA)", results,
            new TableColumn<UnifiedLlmResult>[]
        {
            new("variant", r => r.Name),
            new("visual interface", r => r.Interface.ToString()),
            new("caption objects %", r => 100 * r.Scores.Captions.ObjectMatch),
            new("objects chance %", r => 100 * r.Scores.Captions.ObjectChance),
            new("caption attributes %", r => 100 * r.Scores.Captions.Attributes),
            new("attributes chance %", r => 100 * r.Scores.Captions.AttributesChance),
            new("size %", r => 100 * r.Scores.Captions.Size),
            new("colour %", r => 100 * r.Scores.Captions.Colour),
            new("shape %", r => 100 * r.Scores.Captions.Shape),
            new("count %", r => 100 * r.Scores.Captions.CountRight),
            new("caption exact %", r => 100 * r.Scores.Captions.ExactShare),
            new("caption F1", r => r.Scores.Captions.TokenF1),
            new("VQA %", r => 100 * r.Scores.Vqa),
            new("text ppl", r => r.Scores.Perplexity),
            new("train s", r => r.Training.FromCache ? "cached" : r.Training.Seconds),
        }, note: "Caption objects: the scene's objects named with size, colour and shape all right; caption attributes: each of the " +
            "three judged alone, " +
            "for the named object paired with each scene object (size, colour, shape: one attribute; count: as many objects named as " +
                "there are); " +
            $"chance: the same captions scored against shuffled scenes. Held-out text perplexity after text pretraining alone: " +
                $"{textOnlyPerplexity:0.00}.",
            measured: new[] { "train s" });
        var generation = ResultTable.Of("Unified LLM on Shapes: generation (text → image)",
            results.Where(r => r.Scores.TextToImage is not null),
            new TableColumn<UnifiedLlmResult>[]
            {
                new("variant", r => r.Name),
                new("guidance", r => r.Scores.TextToImage!.Guidance),
                new("T2I simple %", r => 100 * r.Scores.TextToImage!.Simple.ObjectAccuracy),
                new("simple chance %", r => 100 * r.Scores.TextToImage!.SimpleChance.ObjectAccuracy),
                new("T2I objects %", r => 100 * r.Scores.TextToImage!.All.ObjectAccuracy),
                new("T2I chance %", r => 100 * r.Scores.TextToImage!.AllChance.ObjectAccuracy),
                new("T2I colours %", r => 100 * r.Scores.TextToImage!.All.ColourAccuracy),
                new("colour chance %", r => 100 * r.Scores.TextToImage!.AllChance.ColourAccuracy),
                new("T2I shapes %", r => 100 * r.Scores.TextToImage!.All.ShapeAccuracy),
                new("T2I relation %", r => 100 * r.Scores.TextToImage!.All.RelationAccuracy),
                new("T2I scenes %", r => 100 * r.Scores.TextToImage!.All.SceneAccuracy),
                new("FD", r => r.Scores.TextToImage!.FrechetDistance),
            }, note: "Variants that can draw. T2I objects: prompted shape and colour found together in some cell; " +
            "colours / shapes: each attribute alone; relation: the prompt's \"left of\" / \"above\" holds between where the first two " +
                "were found. " +
            "Simple: one-object prompts. Chance: the same generated images scored against shuffled prompts. " +
            $"Guidance: the classifier-free guidance scale of {string.Join(", ", s.Recipe.Evaluation.Scales)} that drew most prompted " +
                $"objects for " +
            $"{s.TestSet.ValidationPrompts.Count} validation prompts, chosen per variant before the test prompts were drawn.");
        return (understanding, generation);
    }
}
