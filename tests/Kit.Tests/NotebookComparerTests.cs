// Two executed copies of a notebook compared table by table: measured columns and measured rows (a claim about speed)
// are skipped, every other cell must agree.
using System.Text.Json.Nodes;
using Kit.Cli.Notebooks;
using Kit.Core;
using Kit.Evaluation;

namespace Kit.Tests;

public sealed class NotebookComparerTests : TempDirectoryTest
{
    // An executed notebook whose one cell shows the claims table as the kernel would (its HTML).
    string Executed(string name, double seconds, double accuracy)
    {
        var claims = new ClaimsTable("a paper", new[]
        {
            new Claim("accurate", "stated", $"{accuracy:0.00}", ClaimRule.Greater(accuracy, 0.5)),
            new Claim("fast", "stated", $"{seconds:0.0} s", ClaimRule.Less(seconds, 10, " s"), Measured: true),
        }, RunScale.Default);
        var output = new JsonObject { ["output_type"] = "display_data", ["data"] = new JsonObject { ["text/html"] = claims.ToHtml() } };
        var notebook = new JsonObject { ["cells"] = new JsonArray(new JsonObject { ["cell_type"] = "code", ["outputs"] = new JsonArray(output) }) };
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, notebook.ToJsonString());
        return path;
    }

    [Fact]
    public void AMeasuredRowMayDifferButNothingElse()
    {
        var first = Executed("a.ipynb", seconds: 4.2, accuracy: 0.8);
        Assert.Empty(NotebookComparer.Differences(first, Executed("b.ipynb", seconds: 12.9, accuracy: 0.8)));   // only the speed (and its verdict) moved
        var differences = NotebookComparer.Differences(first, Executed("c.ipynb", seconds: 4.2, accuracy: 0.7));
        Assert.Equal(2, differences.Count);   // this run's figure and the rule's numbers of the accuracy claim
        Assert.All(differences, d => Assert.Contains("row 1", d));
    }
}
