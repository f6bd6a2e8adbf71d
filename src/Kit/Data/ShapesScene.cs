// The vocabulary of the Shapes dataset and one scene's description: what is where, the caption and the
// question–answer pairs — everything except the pixels (ShapesRenderer draws those).
namespace Kit.Data;

/// <summary>Object shapes; the class id in a mask is (int)shape + 1 (0 is background).</summary>
public enum ShapeKind { Circle, Square, Triangle, Star, Cross }

/// <summary>Object colours.</summary>
public enum ShapeColour { Red, Green, Blue, Yellow, Purple, Orange, White }

/// <summary>Object sizes.</summary>
public enum ShapeSize { Small, Large }

/// <summary>Scene background.</summary>
public enum ShapesBackground { Plain, Noise }

/// <summary>Dataset split. A scene layout belongs to exactly one split.</summary>
public enum Split { Train, Validation, Test }

/// <summary>One object: shape, colour, size and its cell on the 3×3 grid (row 0 = top, column 0 = left).</summary>
public sealed record ShapeObject(ShapeKind Shape, ShapeColour Colour, ShapeSize Size, int Row, int Column)
{
    /// <summary>Mask class of this object: (int)Shape + 1.</summary>
    public int ClassId => (int)Shape + 1;

    /// <summary>"a large red circle".</summary>
    public string Phrase => $"a {Word(Size)} {Word(Colour)} {Word(Shape)}";

    /// <summary>Name of the grid cell, e.g. "top left", "center".</summary>
    public string Where => CellNames[Row * 3 + Column];

    internal static readonly string[] CellNames =
        { "top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right" };

    /// <summary>Lower-case English word for an enum value ("circle", "red", "small").</summary>
    public static string Word<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}

/// <summary>A question about a scene and its one-word answer.</summary>
public sealed record QuestionAnswer(string Question, string Answer);

/// <summary>A scene: 1–3 objects with distinct shapes in distinct grid cells.</summary>
public sealed record ShapesScene(IReadOnlyList<ShapeObject> Objects)
{
    static readonly string[] Numbers = { "zero", "one", "two", "three", "four" };

    /// <summary>Canonical description (objects in grid order): two scenes are the same scene iff their keys match.</summary>
    public string Key => string.Join("|", Objects.OrderBy(o => o.Row * 3
        + o.Column).Select(o => $"{o.Row}{o.Column}:{o.Shape}:{o.Colour}:{o.Size}"));

    /// <summary>The split this scene belongs to, fixed by a hash of <see cref="Key"/> (80% / 10% / 10%).</summary>
    public Split Split
    {
        get
        {
            ulong h = 14695981039346656037UL; // FNV-1a 64: stable across runs and machines, unlike string.GetHashCode
            foreach (char c in Key) { h ^= c; h *= 1099511628211UL; }
            int bucket = (int)(h % 10);
            return bucket < 8 ? Split.Train : bucket == 8 ? Split.Validation : Split.Test;
        }
    }

    /// <summary>How object <paramref name="a"/> stands to <paramref name="b"/>: "left of", "right of", "above" or "below".</summary>
    public static string Relation(ShapeObject a, ShapeObject b) =>
        a.Column < b.Column ? "left of" : a.Column > b.Column ? "right of" : a.Row < b.Row ? "above" : "below";

    /// <summary>The number of caption phrasings <see cref="Caption"/> chooses among.</summary>
    public const int CaptionTemplates = 3;

    /// <summary>The caption in phrasing <paramref name="template"/> (0 ≤ template &lt; CaptionTemplates).</summary>
    public string Caption(int template)
    {
        if (template < 0 || template >= CaptionTemplates)
            throw new ArgumentOutOfRangeException(nameof(template), template, $"expected 0..{CaptionTemplates - 1}");
        var o = Objects;
        return (o.Count, template) switch
        {
            (1, 0) => o[0].Phrase,
            (1, 1) => $"a picture of {o[0].Phrase}",
            (1, _) => $"{o[0].Phrase} in the {o[0].Where}",
            (2, 0) => $"{o[0].Phrase} {Relation(o[0], o[1])} {o[1].Phrase}",
            (2, 1) => $"there is {o[0].Phrase} {Relation(o[0], o[1])} {o[1].Phrase}",
            (2, _) => $"{o[1].Phrase} {Relation(o[1], o[0])} {o[0].Phrase}",
            (_, 0) => $"{o[0].Phrase} {Relation(o[0], o[1])} {o[1].Phrase} and {o[2].Phrase}",
            (_, 1) => $"{o[0].Phrase}, {o[1].Phrase} and {o[2].Phrase}",
            (_, _) => $"{o[2].Phrase} {Relation(o[2], o[0])} {o[0].Phrase}, and {o[1].Phrase}",
        };
    }

    /// <summary>Question–answer pairs whose answers follow from the objects' attributes.</summary>
    public IReadOnlyList<QuestionAnswer> Questions()
    {
        var qa = new List<QuestionAnswer> { new("how many objects are there?", Numbers[Objects.Count]) };
        foreach (var o in Objects)
        {
            var s = ShapeObject.Word(o.Shape);
            qa.Add(new($"what colour is the {s}?", ShapeObject.Word(o.Colour)));
            qa.Add(new($"what size is the {s}?", ShapeObject.Word(o.Size)));
            qa.Add(new($"where is the {s}?", o.Where));
            qa.Add(new($"is there a {s}?", "yes"));
            if (Objects.Count(x => x.Colour == o.Colour) == 1)
                qa.Add(new($"what shape is the {ShapeObject.Word(o.Colour)} object?", s));
        }
        foreach (var absent in Enum.GetValues<ShapeKind>().Where(k => Objects.All(o => o.Shape != k)).Take(1))
            qa.Add(new($"is there a {ShapeObject.Word(absent)}?", "no"));
        for (int i = 0; i < Objects.Count; i++)
            for (int j = 0; j < Objects.Count; j++)
            {
                if (i == j) continue;
                var (a, b) = (Objects[i], Objects[j]);
                var (sa, sb) = (ShapeObject.Word(a.Shape), ShapeObject.Word(b.Shape));
                qa.Add(new($"is the {sa} left of the {sb}?", a.Column < b.Column ? "yes" : "no"));
                qa.Add(new($"is the {sa} above the {sb}?", a.Row < b.Row ? "yes" : "no"));
            }
        return qa;
    }
}
