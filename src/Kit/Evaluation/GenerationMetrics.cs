// Judging a unified model on Shapes, where the truth is known exactly: text-to-image compositional accuracy
// read by the frozen probe (GenEval's idea: detect each prompted object and check its attributes and place),
// with a chance level measured the same way against shuffled prompts; caption attribute match and token F1; and
// VQA exact-match accuracy.
using System.Text.RegularExpressions;
using Kit.Data;
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>
/// Text-to-image accuracy against what a prompt states (GenEval's idea). A prompt names objects by size, colour and shape
/// and — in the phrasing used for generation, <see cref="ShapesScene.Caption"/>(0) — the relation of its first two
/// objects ("left of", "above", …), never their grid cells; so a generated object counts when the probe finds its shape
/// and colour in any cell, and the relation counts when the cells where the first two were found stand as stated.
/// ObjectAccuracy: share of prompted objects found (shape and colour in one cell); ColourAccuracy / ShapeAccuracy: the
/// attribute alone found in some cell; RelationAccuracy: share of prompts with a stated relation whose relation holds
/// (NaN when no prompt states one); SceneAccuracy: share of prompts with every object found and the relation right.
/// (Sizes are not read by the probe.)
/// </summary>
public sealed record CompositionalScore(double ObjectAccuracy, double SceneAccuracy, double ColourAccuracy, double ShapeAccuracy,
    double RelationAccuracy);

/// <summary>
/// Caption quality against a scene. ObjectMatch: share of the scene's objects named with all three of size, colour and
/// shape; Exact: every object named and nothing else; TokenF1: bag-of-words F1 against the closest phrasing;
/// Attributes: each attribute of each object judged on its own (see <see cref="CaptionAttributes"/>).
/// </summary>
public sealed record CaptionScore(double ObjectMatch, bool Exact, double TokenF1, CaptionAttributes Attributes);

/// <summary>
/// Each of the scene's objects is paired with at most one object the caption names, in the pairing that agrees on the
/// most attributes (an object left unpaired, because the caption names fewer, gets none right). Size, Colour, Shape:
/// share of the scene's objects whose paired phrase states that attribute right; Mean: their average, the share of all
/// (object, attribute) pairs stated right; CountRight: the caption names as many objects as the scene holds.
/// </summary>
public sealed record CaptionAttributes(double Size, double Colour, double Shape, bool CountRight)
{
    /// <summary>Share of every (object, attribute) pair stated right.</summary>
    public double Mean => (Size + Colour + Shape) / 3;
}

/// <summary>Generation and understanding metrics on Shapes.</summary>
public static partial class GenerationMetrics
{
    /// <summary>Reads each image with the probe and scores it against its prompt scene (see <see cref="CompositionalScore"/>).</summary>
    public static CompositionalScore Compositional(ProbeNetwork probe, Tensor images, IReadOnlyList<ShapesScene> prompts)
    {
        if (images.shape[0] != prompts.Count) throw new ArgumentException($"{images.shape[0]} images for {prompts.Count} prompts.",
            nameof(prompts));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = probe.parameters().First().device;
        var (shape, colour) = ProbeNetwork.SplitShapes(probe.forward(images.to(device)));
        return Compositional(prompts, shape.argmax(2).cpu().data<long>().ToArray(), colour.argmax(2).cpu().data<long>().ToArray());
    }

    /// <summary>
    /// The score from per-cell readings: <paramref name="shapes"/> and <paramref name="colours"/> hold, for image b and cell
    /// r·3 + c at index b·9 + r·3 + c, the probe's class (0 = empty / none, else the enum value + 1).
    /// </summary>
    public static CompositionalScore Compositional(IReadOnlyList<ShapesScene> prompts, long[] shapes, long[] colours)
    {
        int cells = ProbeNetwork.Cells;
        if (shapes.Length != prompts.Count * cells || colours.Length != prompts.Count * cells)
            throw new ArgumentException($"expected {prompts.Count * cells} cell readings for {prompts.Count} prompts; got " +
                $"{shapes.Length} shapes and {colours.Length} colours.", nameof(shapes));
        int objects = 0, found = 0, coloursFound = 0, shapesFound = 0, scenesRight = 0, relations = 0, relationsRight = 0;
        for (int b = 0; b < prompts.Count; b++)
        {
            var prompt = prompts[b].Objects;
            var at = new int[prompt.Count];
            for (int i = 0; i < prompt.Count; i++)
            {
                long wantShape = (int)prompt[i].Shape + 1, wantColour = (int)prompt[i].Colour + 1;
                var inImage = Enumerable.Range(b * cells, cells);
                at[i] = inImage.Where(k => shapes[k] == wantShape
                    && colours[k] == wantColour).Select(k => k - b * cells).DefaultIfEmpty(-1).First();
                objects++;
                if (at[i] >= 0) found++;
                if (inImage.Any(k => colours[k] == wantColour)) coloursFound++;
                if (inImage.Any(k => shapes[k] == wantShape)) shapesFound++;
            }
            bool allFound = at.All(c => c >= 0), relationRight = true;
            if (prompt.Count >= 2)
            {
                relations++;
                relationRight = allFound && ShapesScene.Relation(prompt[0] with { Row = at[0] / 3, Column = at[0] % 3 },
                    prompt[1] with { Row = at[1] / 3, Column = at[1] % 3 })
                    == ShapesScene.Relation(prompt[0], prompt[1]);
                if (relationRight) relationsRight++;
            }
            if (allFound && relationRight) scenesRight++;
        }
        return new CompositionalScore(found / (double)objects, scenesRight / (double)prompts.Count, coloursFound / (double)objects,
            shapesFound / (double)objects,
            relations == 0 ? double.NaN : relationsRight / (double)relations);
    }

    /// <summary>The same score against prompts rotated by half the batch: what images unrelated to their prompt score (chance
    /// level).</summary>
    public static CompositionalScore ShuffledChance(ProbeNetwork probe, Tensor images, IReadOnlyList<ShapesScene> prompts) =>
        Compositional(probe, images, Shuffled(prompts));

    /// <summary>
    /// <paramref name="scenes"/> rotated by half their number, so each output is paired with another input's scene: the pairing
    /// the chance levels score against (captions as well as images).
    /// </summary>
    public static IReadOnlyList<ShapesScene> Shuffled(IReadOnlyList<ShapesScene> scenes)
    {
        int n = scenes.Count, shift = Math.Max(1, n / 2);
        return Enumerable.Range(0, n).Select(i => scenes[(i + shift) % n]).ToList();
    }

    [GeneratedRegex(@"\b(small|large) (red|green|blue|yellow|purple|orange|white) (circle|square|triangle|star|cross)\b")]
    private static partial Regex ObjectPhrase();

    /// <summary>Scores <paramref name="caption"/> against <paramref name="scene"/>; F1 is the best over the scene's caption
    /// phrasings.</summary>
    public static CaptionScore Caption(string caption, ShapesScene scene)
    {
        // Each object as [size, colour, shape] words: those the caption names, and the scene's.
        var namedWords = ObjectPhrase().Matches(caption).Select(m => new[] { m.Groups[1].Value, m.Groups[2].Value,
            m.Groups[3].Value }).ToList();
        var truthWords = scene.Objects.Select(o => new[] { ShapeObject.Word(o.Size), ShapeObject.Word(o.Colour),
            ShapeObject.Word(o.Shape) }).ToList();
        var named = namedWords.Select(w => string.Join(" ", w)).ToList();
        var truth = truthWords.Select(w => string.Join(" ", w)).ToList();
        int matched = truth.Count(t => named.Contains(t));
        bool exact = matched == truth.Count && named.Distinct().Count() == truth.Count && named.All(truth.Contains);
        double f1 = Enumerable.Range(0, ShapesScene.CaptionTemplates).Max(t => TokenF1(caption, scene.Caption(t)));
        return new CaptionScore(matched / (double)truth.Count, exact, f1, PairAttributes(truthWords, namedWords));
    }

    /// <summary>
    /// The pairing of <paramref name="truth"/> objects with distinct <paramref name="named"/> ones (or none) that agrees on the most
    /// attributes, searched exhaustively (a scene holds at most three objects), and the share of each attribute it gets right.
    /// Each object is [size, colour, shape].
    /// </summary>
    static CaptionAttributes PairAttributes(IReadOnlyList<string[]> truth, IReadOnlyList<string[]> named)
    {
        var right = new int[3];
        int bestTotal = -1;
        var current = new int[3];
        var used = new bool[named.Count];
        void Search(int i)
        {
            if (i == truth.Count)
            {
                if (current.Sum() > bestTotal) { bestTotal = current.Sum(); current.CopyTo(right, 0); }
                return;
            }
            Search(i + 1); // object i left unpaired
            for (int j = 0; j < named.Count; j++)
            {
                if (used[j]) continue;
                used[j] = true;
                for (int a = 0; a < 3; a++) if (truth[i][a] == named[j][a]) current[a]++;
                Search(i + 1);
                for (int a = 0; a < 3; a++) if (truth[i][a] == named[j][a]) current[a]--;
                used[j] = false;
            }
        }
        Search(0);
        double n = truth.Count;
        return new CaptionAttributes(right[0] / n, right[1] / n, right[2] / n, named.Count == truth.Count);
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

    /// <summary>
    /// Class accuracy of class-conditional samples: the share of samples whose class, as a classifier reads it
    /// (<paramref name="predicted"/>), is the class they were asked for (<paramref name="requested"/>).
    /// </summary>
    public static double ClassAccuracy(IReadOnlyList<long> predicted, IReadOnlyList<int> requested)
    {
        if (predicted.Count != requested.Count || predicted.Count == 0)
            throw new ArgumentException($"{predicted.Count} predictions for {requested.Count} requested classes: expected one each, at " +
                $"least one.", nameof(predicted));
        return predicted.Zip(requested).Count(p => p.First == p.Second) / (double)predicted.Count;
    }

    /// <summary>Share of answers equal to the expected ones (case and surrounding spaces ignored).</summary>
    public static double VqaAccuracy(IReadOnlyList<string> answers, IReadOnlyList<string> expected)
    {
        if (answers.Count != expected.Count) throw new ArgumentException($"{answers.Count} answers for {expected.Count} questions.",
            nameof(answers));
        return answers.Zip(expected).Count(p => string.Equals(p.First.Trim(), p.Second.Trim(),
            StringComparison.OrdinalIgnoreCase)) / (double)Math.Max(1, answers.Count);
    }
}
