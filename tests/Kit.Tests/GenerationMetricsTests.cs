using Kit.Data;
using Kit.Evaluation;
using Kit.Evaluation.Unified;
using Kit.Experiments;

namespace Kit.Tests;

public class GenerationMetricsTests
{
    static readonly ShapeObject RedCircle = new(ShapeKind.Circle, ShapeColour.Red, ShapeSize.Small, 0, 0);
    static readonly ShapeObject BlueSquare = new(ShapeKind.Square, ShapeColour.Blue, ShapeSize.Large, 2, 2);

    // One image's probe readings: (row, column, shape, colour) per occupied cell, the rest empty.
    static (long[] Shapes, long[] Colours) Cells(params (int Row, int Column, ShapeKind Shape, ShapeColour Colour)[] objects)
    {
        var shapes = new long[9]; var colours = new long[9];
        foreach (var o in objects) { shapes[o.Row * 3 + o.Column] = (int)o.Shape + 1; colours[o.Row * 3 + o.Column] = (int)o.Colour + 1; }
        return (shapes, colours);
    }

    [Fact]
    public void ClassAccuracyCountsSamplesReadAsTheAskedClass()
    {
        // Hand count: the first, second and fourth samples are read as the class they were asked for.
        Assert.Equal(0.6, GenerationMetrics.ClassAccuracy(new long[] { 0, 1, 2, 2, 9 }, new[] { 0, 1, 1, 2, 3 }), 12);
        Assert.Throws<ArgumentException>(() => GenerationMetrics.ClassAccuracy(new long[] { 0, 1 }, new[] { 0 }));
        Assert.Throws<ArgumentException>(() => GenerationMetrics.ClassAccuracy(Array.Empty<long>(), Array.Empty<int>()));
    }

    [Fact]
    public void CompositionalScoreChecksWhatThePromptStates()
    {
        var twoObjects = new ShapesScene(new[] { RedCircle, BlueSquare });                 // "… circle left of … square"
        var oneObject = new ShapesScene(new[] { new ShapeObject(ShapeKind.Star, ShapeColour.Green, ShapeSize.Large, 1, 1) });
        var readings = new[]
        {
            Cells((1, 0, ShapeKind.Circle, ShapeColour.Red), (1, 2, ShapeKind.Square, ShapeColour.Blue)),  // other cells, relation kept: right
            Cells((1, 2, ShapeKind.Circle, ShapeColour.Red), (1, 0, ShapeKind.Square, ShapeColour.Blue)),  // both found, relation reversed
            Cells((0, 0, ShapeKind.Star, ShapeColour.Red), (1, 1, ShapeKind.Circle, ShapeColour.Green)),   // colour and shape, never together
        };
        var score = GenerationMetrics.Compositional(new[] { twoObjects, twoObjects, oneObject },
            readings.SelectMany(r => r.Shapes).ToArray(), readings.SelectMany(r => r.Colours).ToArray());
        // Hand count: 5 prompted objects, 4 found; every colour and shape appears somewhere; 1 of 2 relations holds; 1 of 3 scenes right.
        Assert.Equal(4 / 5.0, score.ObjectAccuracy, 12);
        Assert.Equal(1.0, score.ColourAccuracy, 12);
        Assert.Equal(1.0, score.ShapeAccuracy, 12);
        Assert.Equal(0.5, score.RelationAccuracy, 12);
        Assert.Equal(1 / 3.0, score.SceneAccuracy, 12);
        Assert.True(double.IsNaN(GenerationMetrics.Compositional(new[] { oneObject }, readings[2].Shapes, readings[2].Colours).RelationAccuracy));
        Assert.Throws<ArgumentException>(() => GenerationMetrics.Compositional(new[] { oneObject }, new long[8], new long[9]));
    }

    [Fact]
    public void CaptionScoresCountObjectsNamedWithEveryAttribute()
    {
        var scene = new ShapesScene(new[] { RedCircle, BlueSquare });
        var right = GenerationMetrics.Caption("a small red circle left of a large blue square", scene);
        Assert.Equal(1.0, right.ObjectMatch, 12);
        Assert.True(right.Exact);
        var wrongSize = GenerationMetrics.Caption("a large red circle left of a large blue square", scene);
        Assert.Equal(0.5, wrongSize.ObjectMatch, 12);
        Assert.False(wrongSize.Exact);
        // Token F1 by hand: "a red circle" vs "a blue circle" share {a, circle}: precision = recall = 2/3.
        Assert.Equal(2 / 3.0, GenerationMetrics.TokenF1("a red circle", "a blue circle"), 12);
        Assert.Equal(0.5, GenerationMetrics.VqaAccuracy(new[] { " Blue ", "no" }, new[] { "blue", "yes" }), 12);
    }

    [Fact]
    public void CaptionAttributesAreJudgedOneByOneUnderTheBestPairing()
    {
        // Small red circle and large blue square, captioned "large red circle … small blue triangle". Pairing circle with the
        // first phrase agrees on colour and shape, square with the second on colour: 3 attributes; the crossed pairing agrees on
        // 2 sizes only. So size 0/2, colour 2/2, shape 1/2.
        var scene = new ShapesScene(new[] { RedCircle, BlueSquare });
        var mixed = GenerationMetrics.Caption("a large red circle left of a small blue triangle", scene).Attributes;
        Assert.Equal((0.0, 1.0, 0.5), (mixed.Size, mixed.Colour, mixed.Shape));
        Assert.Equal(0.5, mixed.Mean, 12);
        Assert.True(mixed.CountRight);
        Assert.Equal(0.0, GenerationMetrics.Caption("a large red circle left of a small blue triangle", scene).ObjectMatch, 12);

        // One phrase for two objects: the square is named right, the circle is unpaired and gets nothing.
        var short_ = GenerationMetrics.Caption("a large blue square", scene).Attributes;
        Assert.Equal((0.5, 0.5, 0.5), (short_.Size, short_.Colour, short_.Shape));
        Assert.False(short_.CountRight);

        // Where pairing each object with its own best phrase in turn goes wrong: the small red circle agrees most (size and
        // colour) with "small red square", which the small red square needs (all three). The best pairing gives the circle
        // "large blue circle" (shape): sizes 1/2, colours 1/2, shapes 2/2 — a greedy pairing would score shapes 0/2.
        var twoSmallRed = new ShapesScene(new[] { RedCircle, new ShapeObject(ShapeKind.Square, ShapeColour.Red, ShapeSize.Small, 1, 1) });
        var crossed = GenerationMetrics.Caption("a small red square, a large blue circle", twoSmallRed).Attributes;
        Assert.Equal((0.5, 0.5, 1.0), (crossed.Size, crossed.Colour, crossed.Shape));
        Assert.Equal(2 / 3.0, crossed.Mean, 12);
    }

    [Fact]
    public void CaptionSummaryScoresChanceAgainstShuffledScenes()
    {
        // Two scenes captioned exactly; chance scores each caption against the other scene: "small red circle" against the
        // large blue square shares nothing, and the reverse the same, so chance is 0 while the captions score 1.
        var scenes = new[] { new ShapesScene(new[] { RedCircle }), new ShapesScene(new[] { BlueSquare }) };
        var exact = CaptionSummary.Of(new[] { "a small red circle", "a large blue square" }, scenes);
        Assert.Equal((1.0, 1.0, 1.0, 1.0), (exact.ObjectMatch, exact.Attributes, exact.ExactShare, exact.CountRight));
        Assert.Equal((0.0, 0.0), (exact.ObjectChance, exact.AttributesChance));
        // A caption that always says "a small blue circle": per scene 2/3 (circle: size, shape) and 1/3 (square: colour) of
        // the attributes, the same against the shuffled scenes, so it sits at chance.
        var constant = CaptionSummary.Of(new[] { "a small blue circle", "a small blue circle" }, scenes);
        Assert.Equal(0.5, constant.Attributes, 12);
        Assert.Equal(constant.Attributes, constant.AttributesChance, 12);
        Assert.Throws<ArgumentException>(() => CaptionSummary.Of(new[] { "a small red circle" }, scenes));
    }

    [Fact]
    public void GuidanceIsTheBestScoringScaleAndTheSmallestOnATie()
    {
        Assert.Equal(6.0, UnifiedEvaluation.BestGuidance(new[] { (1.0, 0.10), (3.0, 0.12), (6.0, 0.16) }));
        Assert.Equal(1.0, UnifiedEvaluation.BestGuidance(new[] { (1.0, 0.20), (3.0, 0.12), (6.0, 0.16) }));
        // Listed out of order, 3 and 6 tie for the best: 3, the smaller.
        Assert.Equal(3.0, UnifiedEvaluation.BestGuidance(new[] { (6.0, 0.15), (1.0, 0.05), (3.0, 0.15) }));
        Assert.Throws<ArgumentException>(() => UnifiedEvaluation.BestGuidance(Array.Empty<(double, double)>()));
    }
}
