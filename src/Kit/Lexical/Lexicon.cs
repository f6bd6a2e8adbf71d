// The one vocabulary LexVLA scores images and texts over: the text tokenizer's ids, filtered of entries that mean
// nothing on their own (LexVLA keeps 17,149 of Llama's 32,000). The kit's rule, stated: an entry is kept when it is a
// whole lower-case word of the corpus that the tokenizer encodes (with its leading space) as exactly one token, at
// least two letters long and not a stop word. That drops punctuation and digits (no letters), sub-word fragments (a
// word split into pieces gives none of them an entry) and function words. The Shapes words — shapes, colours, sizes,
// relations and places — are marked: activation on any other entry is, for a Shapes image, on a meaningless word.
using System.Text.RegularExpressions;
using Kit.Data;
using Kit.Language;
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Entries of the lexical vocabulary: text ids and their words.</summary>
public sealed partial class Lexicon
{
    /// <summary>Function words: no entry of their own (a closed list, the kit's).</summary>
    public static readonly IReadOnlySet<string> StopWords = new HashSet<string>(
        ("a an the and or but nor of in on at to from by for with as is are was were be been being am it its this that these those " +
         "there here then than so such not no yes do does did done has have had having will would shall should can could may might must " +
         "i me my we us our you your he him his she her they them their what which who whom whose when where why how all any both each " +
         "few more most other some only own same too very just also into onto over under out up down off again once about against " +
         "between through during before after while if because until one two three four zero ie eg etc").Split(' ',
             StringSplitOptions.RemoveEmptyEntries));

    /// <summary>The words of Shapes scenes: shapes, colours, sizes, relations and places.</summary>
    public static readonly IReadOnlyList<string> ShapesVocabulary =
        Enum.GetValues<ShapeKind>().Select(ShapeObject.Word).Concat(Enum.GetValues<ShapeColour>().Select(ShapeObject.Word))
            .Concat(Enum.GetValues<ShapeSize>().Select(ShapeObject.Word)).Concat(new[] { "left", "right", "above", "below", "top", "bottom",
                "center", "picture" }).ToList();

    readonly Dictionary<string, int> _index = new();

    Lexicon(TextTokenizer text, IReadOnlyList<(int Id, string Word)> entries, int candidates, int fragments, int stopWords)
    {
        Text = text;
        TextIds = entries.Select(e => e.Id).ToArray();
        Words = entries.Select(e => e.Word).ToArray();
        for (int i = 0; i < Words.Count; i++) _index[Words[i]] = i;
        var shapes = ShapesVocabulary.ToHashSet();
        IsShapesWord = Words.Select(shapes.Contains).ToArray();
        Candidates = candidates;
        Fragments = fragments;
        DroppedStopWords = stopWords;
    }

    /// <summary>The text tokenizer whose ids the entries are.</summary>
    public TextTokenizer Text { get; }

    /// <summary>Entry j's text id (sorted ascending).</summary>
    public IReadOnlyList<int> TextIds { get; }

    /// <summary>Entry j's word.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>Whether entry j is a Shapes word.</summary>
    public IReadOnlyList<bool> IsShapesWord { get; }

    /// <summary>V, the number of entries.</summary>
    public int Count => TextIds.Count;

    /// <summary>Distinct lower-case words of the corpus the rule looked at.</summary>
    public int Candidates { get; }

    /// <summary>Of them, words the tokenizer splits into several tokens (no entry).</summary>
    public int Fragments { get; }

    /// <summary>Of them, stop words and one-letter words (no entry).</summary>
    public int DroppedStopWords { get; }

    [GeneratedRegex("[a-z]+")]
    private static partial Regex LowerWord();

    /// <summary>The lexicon of <paramref name="corpus"/> under the kit's rule (see the file's head).</summary>
    public static Lexicon Build(TextTokenizer text, IEnumerable<string> corpus)
    {
        var words = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var line in corpus)
            foreach (Match m in LowerWord().Matches(line))
                // Only words standing alone in lower case: "Apple" gives no "pple", "x-ray" gives "x" and "ray".
                if ((m.Index == 0 || !char.IsLetter(line[m.Index - 1])) && (m.Index
                    + m.Length == line.Length || !char.IsLetter(line[m.Index + m.Length])))
                    words.Add(m.Value);
        var entries = new Dictionary<int, string>();
        int fragments = 0, stop = 0;
        foreach (var word in words)
        {
            if (word.Length < 2 || StopWords.Contains(word)) { stop++; continue; }
            var ids = text.Encode(" " + word);
            if (ids.Length != 1 || ids[0] == TextTokenizer.Unknown) { fragments++; continue; }
            entries.TryAdd(ids[0], word);
        }
        var sorted = entries.OrderBy(e => e.Key).Select(e => (e.Key, e.Value)).ToList();
        if (sorted.Count < 2) throw new ArgumentException($"the corpus gives {sorted.Count} lexicon entries: expected at least 2 whole " +
            $"words.", nameof(corpus));
        return new Lexicon(text, sorted, words.Count, fragments, stop);
    }

    /// <summary>Entry of <paramref name="word"/>, or −1 when it has none.</summary>
    public int IndexOf(string word) => _index.TryGetValue(word, out int i) ? i : -1;

    /// <summary>The entries' text ids as an int64 tensor [V] (rows of the language model's embedding table).</summary>
    public Tensor IdTensor(Device? device = null) => tensor(TextIds.Select(i => (long)i).ToArray(), device: device);

    /// <summary>[V] true for the Shapes words.</summary>
    public Tensor ShapesMask(Device? device = null) => tensor(IsShapesWord.ToArray(), device: device);

    /// <summary>
    /// The bag of words of <paramref name="text"/>: 1 on the entry of every content word it contains, 0 elsewhere, [V]
    /// (unnormalised; the BoW baseline's target).
    /// </summary>
    public float[] BagOfWords(string text)
    {
        var bag = new float[Count];
        foreach (Match m in LowerWord().Matches(text.ToLowerInvariant()))
            if (IndexOf(m.Value) is int j and >= 0) bag[j] = 1;
        return bag;
    }

    /// <summary>One line: the counts the rule gave.</summary>
    public string Describe() =>
        $"{Count:N0} entries of {Text.Count:N0} text ids: {Candidates:N0} lower-case corpus words, {Fragments:N0} split into several " +
            $"tokens, {DroppedStopWords:N0} stop or one-letter words dropped; " +
        $"{IsShapesWord.Count(x => x)} of the {ShapesVocabulary.Count} Shapes words have an entry";
}
