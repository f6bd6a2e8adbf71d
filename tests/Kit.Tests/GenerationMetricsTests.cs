using Kit.Data;
using Kit.Evaluation;
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
        Assert.Equal(1.0, right.AttributeMatch, 12);
        Assert.True(right.Exact);
        var wrongSize = GenerationMetrics.Caption("a large red circle left of a large blue square", scene);
        Assert.Equal(0.5, wrongSize.AttributeMatch, 12);
        Assert.False(wrongSize.Exact);
        // Token F1 by hand: "a red circle" vs "a blue circle" share {a, circle}: precision = recall = 2/3.
        Assert.Equal(2 / 3.0, GenerationMetrics.TokenF1("a red circle", "a blue circle"), 12);
        Assert.Equal(0.5, GenerationMetrics.VqaAccuracy(new[] { " Blue ", "no" }, new[] { "blue", "yes" }), 12);
    }

    [Fact]
    public void GuidanceIsTheBestScoringScaleAndTheSmallestOnATie()
    {
        Assert.Equal(6.0, UnifiedLlmExperiment.BestGuidance(new[] { (1.0, 0.10), (3.0, 0.12), (6.0, 0.16) }));
        Assert.Equal(1.0, UnifiedLlmExperiment.BestGuidance(new[] { (1.0, 0.20), (3.0, 0.12), (6.0, 0.16) }));
        // Listed out of order, 3 and 6 tie for the best: 3, the smaller.
        Assert.Equal(3.0, UnifiedLlmExperiment.BestGuidance(new[] { (6.0, 0.15), (1.0, 0.05), (3.0, 0.15) }));
        Assert.Throws<ArgumentException>(() => UnifiedLlmExperiment.BestGuidance(Array.Empty<(double, double)>()));
    }
}
