// The library reads on one screen width: no line of src/ passes .editorconfig's max_line_length, which this test reads
// (so the rule and its check cannot drift apart).
using System.Text.RegularExpressions;
using Kit.Core;

namespace Kit.Tests;

public sealed class SourceStyleTests
{
    static int MaxLineLength()
    {
        var config = File.ReadAllText(Path.Combine(KitPaths.RepositoryRoot!, ".editorconfig"));
        var m = Regex.Match(config, @"^\s*max_line_length\s*=\s*(\d+)", RegexOptions.Multiline);
        Assert.True(m.Success, ".editorconfig should set max_line_length for *.cs");
        return int.Parse(m.Groups[1].Value);
    }

    [Fact]
    public void NoSourceLineIsLongerThanTheEditorConfigAllows()
    {
        int limit = MaxLineLength();
        var src = Path.Combine(KitPaths.RepositoryRoot!, "src");
        var sep = Path.DirectorySeparatorChar;
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{sep}bin{sep}") && !f.Contains($"{sep}obj{sep}")).ToList();
        Assert.NotEmpty(files);
        var long_ = files.SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i + 1, line.Length)))
            .Where(x => x.Length > limit).Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.Item2} ({x.Length} characters)").ToList();
        Assert.True(long_.Count == 0, $"lines over {limit} characters:\n" + string.Join("\n", long_.Take(20)));
    }
}
