// The library's namespaces form layers: each may use only the ones below it, so a reader can learn the kit bottom-up
// and a change low down never has to know what sits above. This test reads every source file's namespace and the kit
// namespaces it names (a using directive or a qualified name) and fails on any name of a higher layer.
using System.Text.RegularExpressions;
using Kit.Core;

namespace Kit.Tests;

public sealed class LayeringTests
{
    // Bottom to top. A namespace not listed here fails the test: a new folder must be given its place.
    static readonly string[] Layers =
    {
        "Kit.Core", "Kit.Core.Native", "Kit.Data", "Kit.Quantizers", "Kit.Training", "Kit.Notebook", "Kit.Evaluation", "Kit.Tokenizers", "Kit.Backbones",
        "Kit.Tokenizers.Dynamic", "Kit.Language", "Kit.Language.UnifiedCodebook", "Kit.Lexical", "Kit.Evaluation.Unified", "Kit.Experiments",
    };

    static int LayerOf(string ns) => ns == "Kit.Core.Native" ? 0 : Array.IndexOf(Layers, ns);

    // The longest listed namespace a qualified name starts with ("Kit.Data.WordNet.Installed" → Kit.Data).
    static string? NamespaceOf(string qualified) =>
        Layers.Where(ns => qualified == ns || qualified.StartsWith(ns + ".", StringComparison.Ordinal)).MaxBy(ns => ns.Length);

    static readonly Regex Declared = new(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline);
    static readonly Regex Named = new(@"\bKit(?:\.[A-Z]\w*)+");
    static readonly Regex Comment = new(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline);

    /// <summary>(file, its namespace, a kit namespace it names) for every file of src/Kit under a namespace.</summary>
    static IEnumerable<(string File, string Namespace, string Uses)> References()
    {
        var src = Path.Combine(KitPaths.RepositoryRoot!, "src", "Kit");
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")) continue;
            var text = Comment.Replace(File.ReadAllText(file), "");
            var declared = Declared.Match(text);
            if (!declared.Success || declared.Groups[1].Value == "Kit") continue; // the assembly's root wires the layers together
            foreach (var used in Named.Matches(text).Select(m => NamespaceOf(m.Value)).OfType<string>().Distinct())
                yield return (Path.GetRelativePath(src, file), declared.Groups[1].Value, used);
        }
    }

    [Fact]
    public void EveryNamespaceUsesOnlyTheLayersBelowIt()
    {
        var refs = References().ToList();
        Assert.NotEmpty(refs);
        var unplaced = refs.Select(r => r.Namespace).Distinct().Where(ns => LayerOf(ns) < 0).ToList();
        Assert.True(unplaced.Count == 0, $"namespaces with no layer: {string.Join(", ", unplaced)}");
        var upward = refs.Where(r => LayerOf(r.Uses) > LayerOf(r.Namespace)).Select(r => $"{r.File} ({r.Namespace}) uses {r.Uses}").ToList();
        Assert.True(upward.Count == 0, "a namespace uses one above it:\n" + string.Join("\n", upward));
    }

    [Fact]
    public void CoreNamesNothingOfTheKitOutsideItself() =>
        Assert.All(References().Where(r => r.Namespace.StartsWith("Kit.Core", StringComparison.Ordinal)), r => Assert.StartsWith("Kit.Core", r.Uses));

    [Theory]
    [InlineData("Kit.Data.WordNet.Installed", "Kit.Data")]
    [InlineData("Kit.Evaluation.Unified.DecompressionAccuracy", "Kit.Evaluation.Unified")]
    [InlineData("Kit.Evaluation.ImageMetrics", "Kit.Evaluation")]
    [InlineData("Kit.Tokenizers.Dynamic", "Kit.Tokenizers.Dynamic")]
    public void AQualifiedNameBelongsToTheLongestNamespaceItStartsWith(string name, string expected) => Assert.Equal(expected, NamespaceOf(name));
}
