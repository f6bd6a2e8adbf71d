// Text for pretraining, so that a language ability exists before visual training can damage it (the UniCode
// ablations measure that damage as held-out perplexity). The synthetic part (captions, question–answer pairs and
// templated descriptions of Shapes scenes) always exists; real English comes from Debian's wordnet-base when it
// is installed: WordNet's glosses and example sentences.
using Kit.Core;
using Kit.Data;

namespace Kit.Language;

/// <summary>Where the corpus comes from and how big it is.</summary>
/// <param name="Scenes">Shapes training scenes that give synthetic lines.</param>
/// <param name="WordNetLines">Most WordNet lines to take (0 = none); skipped quietly when WordNet is not installed.</param>
/// <param name="HeldOutScenes">Validation scenes whose lines form the synthetic held-out text.</param>
/// <param name="Seed">Scene seed.</param>
public sealed record TextCorpusConfig(int Scenes = 4000, int WordNetLines = 6000, int HeldOutScenes = 200, long Seed = 0);

/// <summary>Training and held-out lines.</summary>
public sealed record TextCorpus(IReadOnlyList<string> Train, IReadOnlyList<string> HeldOut, IReadOnlyList<string> HeldOutWordNet,
    string Source)
{
    /// <summary>Every line (for fitting the text tokenizer's remapping).</summary>
    public IEnumerable<string> All => Train.Concat(HeldOut).Concat(HeldOutWordNet);

    /// <summary>Builds the corpus with the installed WordNet (<see cref="Data.WordNet.Installed"/>), if any.</summary>
    public static TextCorpus Build(TextCorpusConfig config) => Build(config, Data.WordNet.Installed);

    /// <summary>Builds the corpus; WordNet lines (from <paramref name="wordNetDirectory"/>, none when null) are split 95 / 5 into train and
    /// held-out by a hash of the line.</summary>
    public static TextCorpus Build(TextCorpusConfig config, string? wordNetDirectory)
    {
        var train = SceneLines(new ShapesDataset(config.Scenes, Split.Train, new ShapesOptions(Seed: config.Seed)));
        var heldOut = SceneLines(new ShapesDataset(config.HeldOutScenes, Split.Validation, new ShapesOptions(Seed: config.Seed)));
        var wordNet = config.WordNetLines > 0
            && wordNetDirectory is not null ? WordNet(wordNetDirectory).Take(config.WordNetLines).ToList() : new List<string>();
        var wordNetHeldOut = wordNet.Where(l => Bucket(l) == 0).ToList();
        train.AddRange(wordNet.Where(l => Bucket(l) != 0));
        string source = wordNet.Count > 0
            ? $"{train.Count - (wordNet.Count - wordNetHeldOut.Count):N0} synthetic + {wordNet.Count - wordNetHeldOut.Count:N0} " +
                $"WordNet lines (held out: {heldOut.Count:N0} synthetic, {wordNetHeldOut.Count:N0} WordNet)"
            : $"{train.Count:N0} synthetic lines (held out: {heldOut.Count:N0}); "
                + (config.WordNetLines > 0 ? $"WordNet {Data.WordNet.Absence}" : "no WordNet lines asked for");
        return new TextCorpus(train, heldOut, wordNetHeldOut, source);
    }

    static int Bucket(string line)
    {
        uint h = 2166136261; // FNV-1a: the same split on every machine
        foreach (char c in line) { h ^= c; h *= 16777619; }
        return (int)(h % 20);
    }

    static List<string> SceneLines(ShapesDataset scenes)
    {
        var lines = new List<string>();
        for (int i = 0; i < scenes.Count; i++)
        {
            var scene = scenes[i].Scene;
            lines.Add(scene.Caption(i % ShapesScene.CaptionTemplates));
            var qa = scene.Questions();
            var pair = qa[i % qa.Count];
            lines.Add($"{pair.Question} {pair.Answer}");
            var o = scene.Objects[i % scene.Objects.Count];
            lines.Add($"the {ShapeObject.Word(o.Shape)} is {ShapeObject.Word(o.Colour)} and {ShapeObject.Word(o.Size)}, in the {o.Where}");
        }
        return lines;
    }

    /// <summary>Glosses and example sentences from WordNet's data files, in file order; empty when not installed.</summary>
    public static IEnumerable<string> WordNet(string directory)
    {
        foreach (var part in new[] { "noun", "verb", "adj", "adv" })
        {
            var path = Path.Combine(directory, $"data.{part}");
            if (!File.Exists(path)) continue;
            foreach (var line in File.ReadLines(path))
            {
                if (line.StartsWith("  ")) continue; // licence header
                int bar = line.IndexOf(" | ", StringComparison.Ordinal);
                if (bar < 0) continue;
                // The gloss: definitions separated by ';', example sentences in double quotes.
                foreach (var piece in line[(bar + 3)..].Split(';'))
                {
                    var text = piece.Trim().Trim('"').Trim();
                    if (text.Length >= 12 && text.Length <= 160) yield return text;
                }
            }
        }
    }
}
