// The README's C# snippet must keep working: it runs here as a one-cell notebook.
using System.Text.RegularExpressions;
using Kit.Cli.Notebooks;
using Kit.Core;

namespace Kit.Tests;

public sealed class ReadmeTests : TempDirectoryTest
{
    [Fact]
    public async Task TheReadmeSnippetRuns()
    {
        var readme = File.ReadAllText(Path.Combine(KitPaths.RepositoryRoot!, "README.md"));
        var snippet = Regex.Match(readme, "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(snippet.Success, "README.md should hold a csharp snippet");
        var path = Path.Combine(Dir, "readme.ipynb");
        NotebookFile.Save(NotebookFile.Create(new[] { ("code", snippet.Groups[1].Value + "\nloss", (string[]?)null) }), path);
        var result = await NotebookRunner.RunAsync(path, Path.Combine(Dir, "out"), null, TextWriter.Null);
        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Single(result.Artifacts); // the image grid
    }
}
