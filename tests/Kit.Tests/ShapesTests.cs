// Shapes: determinism, and agreement between the pixels, the masks, the captions and the QA answers —
// the masks and centroids are measured from the rendered pixels, not taken from the scene record.
using Kit.Data;

namespace Kit.Tests;

public class ShapesTests
{
    [Fact]
    public void SameSeedGivesIdenticalBytes()
    {
        var a = new ShapesDataset(20, Split.Train, new ShapesOptions(Seed: 7, Background: ShapesBackground.Noise));
        var b = new ShapesDataset(20, Split.Train, new ShapesOptions(Seed: 7, Background: ShapesBackground.Noise));
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(a[i].Rgb, b[i].Rgb);
            Assert.Equal(a[i].Mask, b[i].Mask);
            Assert.Equal(a[i].Caption, b[i].Caption);
        }
    }

    [Fact]
    public void DifferentSeedsGiveDifferentScenes()
    {
        var a = new ShapesDataset(50, Split.Train, new ShapesOptions(Seed: 1));
        var b = new ShapesDataset(50, Split.Train, new ShapesOptions(Seed: 2));
        int differ = Enumerable.Range(0, 50).Count(i => a[i].Scene.Key != b[i].Scene.Key);
        Assert.True(differ >= 45, $"only {differ} of 50 scenes differ between seeds");
    }

    // Centroid and pixel count of a mask class, and the colour of its brightest pixel: edge pixels are
    // blended with the background by anti-aliasing, a fully covered pixel shows the object's own colour.
    static (double X, double Y, int Count, double R, double G, double B) Region(ShapesSample s, int classId)
    {
        int n = s.Resolution, count = 0, best = -1;
        double x = 0, y = 0;
        for (int p = 0; p < n * n; p++)
            if (s.Mask[p] == classId)
            {
                count++; x += p % n; y += p / n;
                if (best < 0 || Brightness(s, p) > Brightness(s, best)) best = p;
            }
        return count == 0 ? (0, 0, 0, 0, 0, 0) : (x / count, y / count, count, s.Rgb[best * 3], s.Rgb[best * 3 + 1], s.Rgb[best * 3 + 2]);
    }

    static int Brightness(ShapesSample s, int p) => s.Rgb[p * 3] + s.Rgb[p * 3 + 1] + s.Rgb[p * 3 + 2];

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    [InlineData(128)]
    public void MaskPixelsAgreeWithTheObjects(int resolution)
    {
        var ds = new ShapesDataset(60, Split.Train, new ShapesOptions(Resolution: resolution, Seed: 3));
        for (int i = 0; i < ds.Count; i++)
        {
            var s = ds[i];
            var classes = s.Mask.Where(m => m != 0).Select(m => (int)m).ToHashSet();
            Assert.Equal(s.Scene.Objects.Select(o => o.ClassId).ToHashSet(), classes);
            foreach (var o in s.Scene.Objects)
            {
                var region = Region(s, o.ClassId);
                // The object's pixels have its colour ...
                var (r, g, b) = ShapesRenderer.Rgb[o.Colour];
                double distance = Math.Sqrt(Math.Pow(region.R - r, 2) + Math.Pow(region.G - g, 2) + Math.Pow(region.B - b, 2));
                Assert.True(distance < 12, $"sample {i}: {o.Phrase} looks ({region.R:0},{region.G:0},{region.B:0}), expected ({r},{g},{b})");
                // ... and lie in its grid cell.
                double cell = resolution / 3.0;
                Assert.Equal(o.Column, (int)(region.X / cell));
                Assert.Equal(o.Row, (int)(region.Y / cell));
                // Large objects cover more pixels than small ones of the same shape would: at least a fifth of the cell.
                if (o.Size == ShapeSize.Large) Assert.True(region.Count > cell * cell / 5, $"sample {i}: large {o.Shape} covers only {region.Count} px");
            }
        }
    }

    [Fact]
    public void CaptionsNameEveryObjectAndTheRightRelation()
    {
        var ds = new ShapesDataset(200, Split.Train, new ShapesOptions(Seed: 11));
        for (int i = 0; i < ds.Count; i++)
        {
            var s = ds[i];
            foreach (var o in s.Scene.Objects) Assert.Contains(o.Phrase, s.Caption);
            foreach (var a in s.Scene.Objects)
            foreach (var b in s.Scene.Objects)
            foreach (var relation in new[] { "left of", "right of", "above", "below" })
                if (a != b && s.Caption.Contains($"{a.Phrase} {relation} {b.Phrase}"))
                {
                    var (ra, rb) = (Region(s, a.ClassId), Region(s, b.ClassId));
                    bool holds = relation switch
                    {
                        "left of" => ra.X < rb.X, "right of" => ra.X > rb.X, "above" => ra.Y < rb.Y, _ => ra.Y > rb.Y,
                    };
                    Assert.True(holds, $"sample {i}: '{s.Caption}' but centroids {ra.X:0.0},{ra.Y:0.0} vs {rb.X:0.0},{rb.Y:0.0}");
                }
        }
    }

    [Fact]
    public void AnswersAgreeWithThePixels()
    {
        var ds = new ShapesDataset(150, Split.Validation, new ShapesOptions(Seed: 5));
        string[] numbers = { "zero", "one", "two", "three" };
        for (int i = 0; i < ds.Count; i++)
        {
            var s = ds[i];
            var present = s.Mask.Where(m => m != 0).Distinct().Count();
            foreach (var qa in s.Questions)
            {
                var words = qa.Question.TrimEnd('?').Split(' ');
                if (qa.Question.StartsWith("how many")) Assert.Equal(numbers[present], qa.Answer);
                else if (qa.Question.StartsWith("what colour is the"))
                {
                    var shape = Enum.Parse<ShapeKind>(words[^1], true);
                    var region = Region(s, (int)shape + 1);
                    var nearest = ShapesRenderer.Rgb.MinBy(c => Math.Pow(c.Value.R - region.R, 2) + Math.Pow(c.Value.G - region.G, 2) + Math.Pow(c.Value.B - region.B, 2)).Key;
                    Assert.Equal(ShapeObject.Word(nearest), qa.Answer);
                }
                else if (qa.Question.StartsWith("is there a"))
                {
                    var shape = Enum.Parse<ShapeKind>(words[^1], true);
                    Assert.Equal(s.Mask.Contains((byte)((int)shape + 1)) ? "yes" : "no", qa.Answer);
                }
                else if (qa.Question.StartsWith("is the") && qa.Question.Contains(" left of "))
                {
                    var (a, b) = (Region(s, (int)Enum.Parse<ShapeKind>(words[2], true) + 1), Region(s, (int)Enum.Parse<ShapeKind>(words[^1], true) + 1));
                    double cell = s.Resolution / 3.0;
                    if (qa.Answer == "yes") Assert.True(a.X < b.X - cell / 3, $"sample {i}: {qa.Question} yes, centroids {a.X:0.0} vs {b.X:0.0}");
                    else Assert.True(a.X > b.X - cell / 2, $"sample {i}: {qa.Question} no, centroids {a.X:0.0} vs {b.X:0.0}");
                }
            }
        }
    }

    [Fact]
    public void SplitsNeverShareAScene()
    {
        var options = new ShapesOptions(Seed: 9);
        var train = new ShapesDataset(1500, Split.Train, options);
        var validation = new ShapesDataset(300, Split.Validation, options);
        var test = new ShapesDataset(300, Split.Test, options);
        var keys = new[] { train, validation, test }.Select(d => Enumerable.Range(0, d.Count).Select(i => d[i].Scene.Key).ToHashSet()).ToList();
        Assert.Empty(keys[0].Intersect(keys[1]));
        Assert.Empty(keys[0].Intersect(keys[2]));
        Assert.Empty(keys[1].Intersect(keys[2]));
        Assert.True(keys[1].Count > 100, "the validation split should hold many distinct scenes");
    }

    [Fact]
    public void BatchesAreScaledTensorsWithMasksAndLabels()
    {
        var ds = new ShapesDataset(10, Split.Test, new ShapesOptions(Resolution: 64));
        using var batch = ds.Batch(0, 10);
        Assert.Equal(new long[] { 10, 3, 64, 64 }, batch.Images.shape);
        Assert.Equal(new long[] { 10, 64, 64 }, batch.Masks!.shape);
        Assert.True(batch.Images.min().item<float>() >= -1f && batch.Images.max().item<float>() <= 1f);
        // pixel (0, 0) of sample 3, channel R, computed by hand from its bytes
        Assert.Equal(ds[3].Rgb[0] / 127.5f - 1f, batch.Images[3, 0, 0, 0].item<float>(), 5);
        Assert.Equal((long)ds[3].Scene.Objects[0].Shape, batch.Labels![3].item<long>());
        Assert.Equal(ds[3].Caption, batch.Captions[3]);
    }

    [Fact]
    public void BadOptionsNameTheParameter()
    {
        var e = Assert.Throws<ArgumentException>(() => new ShapesDataset(5, Split.Train, new ShapesOptions(MaxObjects: 5)));
        Assert.Contains("MaxObjects=5", e.Message);
        var r = Assert.Throws<ArgumentException>(() => new ShapesDataset(5, Split.Train, new ShapesOptions(Resolution: 4)));
        Assert.Contains("Resolution=4", r.Message);
    }

    [Fact]
    public void ABatchPastTheEndNamesTheIndexAndTheCount()
    {
        var ds = new ShapesDataset(10);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ds.Batch(5, 10));
        Assert.Contains("samples 5..14 were asked of a dataset of 10", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Batch(10, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Batch(0, 0));
        Assert.Equal(5, ds.Batch(5, 5).Captions.Count);   // up to the end is fine
    }
}
