// The headless runner on notebooks built by the tests: shared state, parameters, rich outputs, failures
// and the nbformat structure of the executed copy.
using System.Text.Json.Nodes;
using Kit.Cli.Notebooks;

namespace Kit.Tests;

public sealed class RunnerTests : TempDirectoryTest
{
    string Write(string name, params (string Type, string Source, string[]? Tags)[] cells)
    {
        var path = Path.Combine(Dir, name);
        NotebookFile.Save(NotebookFile.Create(cells), path);
        return path;
    }

    static (string, string, string[]?) Code(string source, params string[] tags) => ("code", source, tags);
    static (string, string, string[]?) Markdown(string source) => ("markdown", source, null);

    async Task<(NotebookRunResult Result, JsonObject Executed)> Run(string path, Dictionary<string, string>? parameters = null)
    {
        var result = await NotebookRunner.RunAsync(path, Path.Combine(Dir, "out"), parameters, TextWriter.Null);
        return (result, JsonNode.Parse(File.ReadAllText(result.ExecutedPath))!.AsObject());
    }

    static JsonArray Outputs(JsonObject nb, int cell) => nb["cells"]![cell - 1]!["outputs"]!.AsArray();
    static string Text(JsonNode? lines) => lines is JsonArray a ? string.Concat(a.Select(l => l!.GetValue<string>())) : lines?.GetValue<string>() ?? "";

    [Fact]
    public async Task CellsShareStateAndCaptureConsoleAndValues()
    {
        var path = Write("state.ipynb",
            Markdown("# State\n"),
            Code("#r \"nuget: Kit\"\nvar x = 20;\nint Twice(int v) => 2 * v;"),
            Code("x += 1;\nConsole.WriteLine($\"x is {x}\");"),
            Code("Twice(x)"));
        var (result, nb) = await Run(path);
        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Equal("State", result.Title);
        Assert.Equal("x is 21\n", Text(Outputs(nb, 3)[0]!["text"]));
        var value = Outputs(nb, 4).Single()!;
        Assert.Equal("execute_result", value["output_type"]!.GetValue<string>());
        Assert.Equal("42", Text(value["data"]!["text/plain"]));
        Assert.Equal(3, nb["cells"]![3]!["execution_count"]!.GetValue<int>());
    }

    [Fact]
    public async Task ParametersCellIsOverriddenLikePapermill()
    {
        var path = Write("params.ipynb",
            Code("var scale = \"default\";\nvar steps = 3;\nvar rate = 0.5;\nvar verbose = false;", "parameters"),
            Code("Console.WriteLine($\"{scale} {steps} {rate} {verbose}\");"));
        var (result, nb) = await Run(path, new() { ["scale"] = "quick", ["steps"] = "50", ["rate"] = "0.125", ["verbose"] = "true" });
        Assert.True(result.Succeeded, result.Failure?.Message);
        var injected = nb["cells"]![1]!;
        Assert.Contains("injected-parameters", injected["metadata"]!["tags"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Contains("steps = 50;", Text(injected["source"]));
        Assert.Equal("quick 50 0.125 True\n", Text(Outputs(nb, 3)[0]!["text"]));
    }

    [Fact]
    public async Task UnknownOrMistypedParametersAreReported()
    {
        var path = Write("bad-params.ipynb", Code("var steps = 3;", "parameters"), Code("steps"));
        var (unknown, _) = await Run(path, new() { ["stpes"] = "5" });
        Assert.False(unknown.Succeeded);
        Assert.Contains("no variable 'stpes'", unknown.Failure!.Message);
        Assert.Contains("steps", unknown.Failure.Message);
        var (mistyped, _) = await Run(path, new() { ["steps"] = "many" });
        Assert.Contains("'many' is not an integer", mistyped.Failure!.Message);
    }

    [Fact]
    public async Task ImageGridsBecomePngAndTablesBecomeHtml()
    {
        var path = Write("rich.ipynb",
            Code("using Kit.Data;\nusing Kit.Notebook;\nvar ds = new ShapesDataset(4);\nvar batch = ds.Batch(0, 4);"),
            Code("display(ImageGrid.From(batch.Images, batch.Captions));\nResultTable.FromRows(\"t\", new[] { \"a\" }, new[] { new object[] { 1.5 } })"),
            Code("Plotly.NET.CSharp.Chart.Point<double, double, string>(x: new[] { 1.0, 2.0 }, y: new[] { 3.0, 4.0 })"));
        var (result, nb) = await Run(path);
        Assert.True(result.Succeeded, result.Failure?.Message);
        var outputs = Outputs(nb, 2);
        var png = Convert.FromBase64String(Text(outputs[0]!["data"]!["image/png"]));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.Null(outputs[0]!["data"]!["text/html"]); // the picture is not repeated as HTML
        Assert.Contains("<table", Text(outputs[1]!["data"]!["text/html"]));
        var chart = Text(Outputs(nb, 3).Single()!["data"]!["text/html"]);
        Assert.Contains("Plotly.newPlot", chart);              // a raw GenericChart displays as a chart ...
        Assert.True(chart.Length > 1_000_000, "... carrying plotly.js, the notebook's first chart");
        Assert.Equal(3, result.Artifacts.Count);
    }

    [Fact]
    public async Task AFailingCellStopsTheRunWithItsNumberAndLine()
    {
        var path = Write("fail.ipynb",
            Markdown("# Fails\n"),
            Code("Console.WriteLine(\"before\");"),
            Code("var data = new int[2];\nConsole.WriteLine(\"partial\");\nvar x = data[5];"),
            Code("Console.WriteLine(\"after\");"));
        var (result, nb) = await Run(path);
        Assert.False(result.Succeeded);
        Assert.Equal(3, result.Failure!.Cell);
        Assert.Equal(3, result.Failure.Line);
        Assert.Contains("IndexOutOfRangeException", result.Failure.Message);
        Assert.Contains("var x = data[5];", result.Failure.Message);
        Assert.Equal("before\n", Text(Outputs(nb, 2)[0]!["text"]));
        var failed = Outputs(nb, 3);
        Assert.Equal("partial\n", Text(failed[0]!["text"]));
        Assert.Equal("error", failed[1]!["output_type"]!.GetValue<string>());
        Assert.Empty(Outputs(nb, 4));
        Assert.Null(nb["cells"]![3]!["execution_count"]);
    }

    [Fact]
    public async Task CompileErrorsAndUnknownPackagesNameTheLine()
    {
        var compile = Write("compile.ipynb", Code("var ok = 1;\nvar bad = undefinedName + 1;"));
        var (c, _) = await Run(compile);
        Assert.True(c.Failure!.Line == 2, c.Failure.Message);
        Assert.Contains("undefinedName", c.Failure.Message);

        // Packages other than the kit's go to the kernel's own NuGet directive, as in VS Code: one that does not exist fails there.
        var package = Write("package.ipynb", Code("#r \"nuget: Kit\"\n#r \"nuget: Kit.NoSuchPackage.Anywhere, 1.0.0\"\nvar a = 1;"));
        var (p, _) = await Run(package);
        Assert.False(p.Succeeded);
        Assert.Equal(2, p.Failure!.Line);
        Assert.Contains("Kit.NoSuchPackage.Anywhere", p.Failure.Message);
    }

    [Fact]
    public async Task ExecutedCopyIsValidNbformat4()
    {
        var path = Write("format.ipynb", Markdown("# F\ntext"), Code("display(\"shown\");\n1 + 1"), Code("throw new Exception(\"x\");"));
        var (_, nb) = await Run(path);
        Assert.Equal(4, nb["nbformat"]!.GetValue<int>());
        Assert.Equal(".net-csharp", nb["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        foreach (var cell in nb["cells"]!.AsArray().Select(c => c!.AsObject()))
        {
            Assert.NotNull(cell["metadata"]);
            Assert.NotNull(cell["source"]);
            var type = cell["cell_type"]!.GetValue<string>();
            if (type == "markdown") { Assert.False(cell.ContainsKey("outputs")); continue; }
            Assert.True(cell.ContainsKey("execution_count"));
            foreach (var output in cell["outputs"]!.AsArray().Select(o => o!.AsObject()))
            {
                var kind = output["output_type"]!.GetValue<string>();
                string[] required = kind switch
                {
                    "stream" => new[] { "name", "text" },
                    "display_data" => new[] { "data", "metadata" },
                    "execute_result" => new[] { "data", "metadata", "execution_count" },
                    "error" => new[] { "ename", "evalue", "traceback" },
                    _ => throw new Xunit.Sdk.XunitException($"unknown output type {kind}"),
                };
                Assert.All(required, key => Assert.True(output.ContainsKey(key), $"{kind} output lacks '{key}'"));
            }
        }
    }

    [Fact]
    public async Task TheRunnerNeverWritesOverItsSource()
    {
        var path = Write("own.ipynb", Code("var scale = \"default\";", "parameters"), Code("Console.WriteLine(scale);"));
        var before = File.ReadAllText(path);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => NotebookRunner.RunAsync(path, Dir, new Dictionary<string, string> { ["scale"] = "quick" }, TextWriter.Null));
        Assert.Contains("would overwrite the source", e.Message);
        Assert.Equal(before, File.ReadAllText(path));
    }

    [Fact]
    public async Task AnEarlierInjectedCellIsDroppedSoItCannotWin()
    {
        // An executed copy saved over its source: the cell an earlier run injected follows the parameters cell.
        var path = Write("stale.ipynb",
            Code("var scale = \"default\";", "parameters"),
            Code("scale = \"quick\";", "injected-parameters"),
            Code("Console.WriteLine($\"scale {scale}\");"));
        var (result, nb) = await Run(path);
        Assert.True(result.Succeeded, result.Failure?.Message);
        Assert.Equal(2, nb["cells"]!.AsArray().Count);
        Assert.Equal("scale default\n", Text(Outputs(nb, 2)[0]!["text"]));
    }

    [Fact]
    public async Task AFailedRunKeepsTheLastGoodCopy()
    {
        var path = Write("keep.ipynb", Code("var seed = 0;", "parameters"), Code("Console.WriteLine($\"seed {seed}\");"));
        var (good, _) = await Run(path, new() { ["seed"] = "3" });
        Assert.True(good.Succeeded, good.Failure?.Message);
        var goodText = File.ReadAllText(good.ExecutedPath);
        var (bad, failedCopy) = await Run(path, new() { ["seed"] = "abc" });
        Assert.False(bad.Succeeded);
        Assert.Equal(good.ExecutedPath, bad.KeptCopy);
        Assert.NotEqual(good.ExecutedPath, bad.ExecutedPath);
        Assert.EndsWith("keep.failed.ipynb", bad.ExecutedPath);
        Assert.Equal(goodText, File.ReadAllText(good.ExecutedPath));   // the good copy is untouched ...
        Assert.Contains("'abc' is not an integer", File.ReadAllText(bad.ExecutedPath)); // ... and the failed one says why
        var (again, _) = await Run(path, new() { ["seed"] = "4" });
        Assert.True(again.Succeeded);
        Assert.False(File.Exists(bad.ExecutedPath), "a later good run removes the superseded failure copy");
    }

    [Fact]
    public async Task AProgressBarIsOneOutputUpdatedInPlace()
    {
        var path = Write("progress.ipynb",
            Code("using Kit.Notebook;\nvar p = new TrainingProgress(40, \"loop\", updateSeconds: 0);\nfor (int i = 1; i <= 40; i++) p.Report(i);"));
        var (result, nb) = await Run(path);
        Assert.True(result.Succeeded, result.Failure?.Message);
        var outputs = Outputs(nb, 1);
        var bar = Assert.Single(outputs); // no stderr line per update: the bar is the cell's only output
        Assert.Contains("loop 40/40", Text(bar!["data"]!["text/plain"]));
    }

    [Fact]
    public void ExportProducesAFileBasedApp()
    {
        var doc = NotebookFile.Create(new[]
        {
            Markdown("# Export\nA note."),
            Code("#r \"nuget: Kit\"\nusing Kit.Core;\nvar n = 2;", "parameters"),
            Code("record Pair(int A, int B);\nvar p = new Pair(n, 3);\np.A + p.B"),
        });
        var app = NotebookExporter.Export(doc, "export.ipynb", "../src/Kit/Kit.csproj", new Dictionary<string, string> { ["n"] = "5" });
        var lines = app.Split('\n');
        Assert.Equal("#:project ../src/Kit/Kit.csproj", lines[1]);
        Assert.Contains("// # Export", lines);
        Assert.Contains("n = 5;", lines);
        Assert.Contains("display(p.A + p.B);", lines);
        int firstStatement = Array.IndexOf(lines, "var n = 2;"), lastUsing = Array.FindLastIndex(lines, l => l.StartsWith("using "));
        Assert.True(lastUsing < firstStatement, "usings come before statements");
        Assert.True(Array.FindIndex(lines, l => l.StartsWith("record Pair")) > Array.IndexOf(lines, "display(p.A + p.B);"), "types come after statements");
    }
}
