// Judging a unified model on Shapes, where the truth is known exactly: text-to-image compositional accuracy
// read by the frozen probe (GenEval's idea: detect each prompted object and check its attributes and place),
// with a chance level measured the same way against shuffled prompts; caption attribute match and token F1; and
// VQA exact-match accuracy.
using System.Text.RegularExpressions;
using Kit.Data;
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>
/// Text-to-image accuracy: share of prompted objects, and of whole scenes, that the probe finds right (shape and
/// colour in the prompted cell); and, GenEval-style, the two attributes apart: right colour in the cell (any shape),
/// right shape in the cell (any colour).
/// </summary>
public sealed record CompositionalScore(double ObjectAccuracy, double SceneAccuracy, double ColourAccuracy, double ShapeAccuracy);

/// <summary>Caption quality against a scene: attribute match (share of objects named with size, colour and shape), exact scene match, token F1.</summary>
public sealed record CaptionScore(double AttributeMatch, bool Exact, double TokenF1);

/// <summary>Generation and understanding metrics on Shapes.</summary>
public static partial class GenerationMetrics
{
    /// <summary>
    /// For each image and its prompt scene: is every prompted object seen by the probe in its grid cell with its
    /// shape and colour? (Sizes are not read by the probe.)
    /// </summary>
    public static CompositionalScore Compositional(ProbeNetwork probe, Tensor images, IReadOnlyList<ShapesScene> prompts)
    {
        if (images.shape[0] != prompts.Count) throw new ArgumentException($"{images.shape[0]} images for {prompts.Count} prompts.", nameof(prompts));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = probe.parameters().First().device;
        var (shape, colour) = ProbeNetwork.SplitShapes(probe.forward(images.to(device)));
        var shapes = shape.argmax(2).cpu().data<long>().ToArray();
        var colours = colour.argmax(2).cpu().data<long>().ToArray();
        int objects = 0, objectsRight = 0, scenesRight = 0, coloursRight = 0, shapesRight = 0;
        for (int b = 0; b < prompts.Count; b++)
        {
            bool all = true;
            foreach (var o in prompts[b].Objects)
            {
                int k = b * ProbeNetwork.Cells + o.Row * 3 + o.Column;
                bool shapeRight = shapes[k] == (int)o.Shape + 1, colourRight = colours[k] == (int)o.Colour + 1, right = shapeRight && colourRight;
                objects++;
                if (shapeRight) shapesRight++;
                if (colourRight) coloursRight++;
                if (right) objectsRight++; else all = false;
            }
            if (all) scenesRight++;
        }
        return new CompositionalScore(objectsRight / (double)objects, scenesRight / (double)prompts.Count, coloursRight / (double)objects, shapesRight / (double)objects);
    }

    /// <summary>The same score against prompts rotated by half the batch: what images unrelated to their prompt score (chance level).</summary>
    public static CompositionalScore ShuffledChance(ProbeNetwork probe, Tensor images, IReadOnlyList<ShapesScene> prompts)
    {
        int n = prompts.Count, shift = Math.Max(1, n / 2);
        return Compositional(probe, images, Enumerable.Range(0, n).Select(i => prompts[(i + shift) % n]).ToList());
    }

    [GeneratedRegex(@"\b(small|large) (red|green|blue|yellow|purple|orange|white) (circle|square|triangle|star|cross)\b")]
    private static partial Regex ObjectPhrase();

    /// <summary>Scores <paramref name="caption"/> against <paramref name="scene"/>; F1 is the best over the scene's caption phrasings.</summary>
    public static CaptionScore Caption(string caption, ShapesScene scene)
    {
        var named = ObjectPhrase().Matches(caption).Select(m => m.Value).ToList();
        var truth = scene.Objects.Select(o => $"{ShapeObject.Word(o.Size)} {ShapeObject.Word(o.Colour)} {ShapeObject.Word(o.Shape)}").ToList();
        int matched = truth.Count(t => named.Contains(t));
        bool exact = matched == truth.Count && named.Distinct().Count() == truth.Count && named.All(truth.Contains);
        double f1 = Enumerable.Range(0, ShapesScene.CaptionTemplates).Max(t => TokenF1(caption, scene.Caption(t)));
        return new CaptionScore(matched / (double)truth.Count, exact, f1);
    }

    /// <summary>Bag-of-words F1 between two texts (SQuAD's token F1).</summary>
    public static double TokenF1(string prediction, string reference)
    {
        var p = Words(prediction); var r = Words(reference);
        if (p.Count == 0 || r.Count == 0) return p.Count == r.Count ? 1 : 0;
        var remaining = r.GroupBy(w => w).ToDictionary(g => g.Key, g => g.Count());
        int common = 0;
        foreach (var w in p) if (remaining.TryGetValue(w, out int c) && c > 0) { common++; remaining[w] = c - 1; }
        if (common == 0) return 0;
        double precision = common / (double)p.Count, recall = common / (double)r.Count;
        return 2 * precision * recall / (precision + recall);
    }

    static List<string> Words(string s) => Regex.Matches(s.ToLowerInvariant(), @"[a-z]+").Select(m => m.Value).ToList();

    /// <summary>Share of answers equal to the expected ones (case and surrounding spaces ignored).</summary>
    public static double VqaAccuracy(IReadOnlyList<string> answers, IReadOnlyList<string> expected)
    {
        if (answers.Count != expected.Count) throw new ArgumentException($"{answers.Count} answers for {expected.Count} questions.", nameof(answers));
        return answers.Zip(expected).Count(p => string.Equals(p.First.Trim(), p.Second.Trim(), StringComparison.OrdinalIgnoreCase)) / (double)Math.Max(1, answers.Count);
    }
}
