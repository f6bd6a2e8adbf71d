// What a careless participant does to a run, each tried as a process the way a shell runs it: a bad --out (a file, a
// read-only folder, a link to the notebooks, a folder that vanishes mid-run), a bad KIT_CACHE, a relative KIT_CACHE or
// --out, KIT_SCALE beside reproduce, a cell that aborts the process, two runs into one folder. Nothing may abort the
// run without a word or lose work already done.
using System.Diagnostics;
using System.Text.Json.Nodes;
using Kit.Cli.Notebooks;

namespace Kit.Tests;

public sealed class CarelessRunTests : TempDirectoryTest
{
    // A notebook of code cells; a cell containing "// parameters" is tagged as the parameters cell.
    string Notebook(string folder, string name, params string[] codeCells)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        NotebookFile.Save(NotebookFile.Create(codeCells.Select(c => ("code", c, (string[]?)(c.Contains("// parameters") ? new[] { "parameters" } : null))).ToArray()), path);
        return path;
    }

    // A cell that leaves a file behind, so a test can tell whether any cell ran.
    static string Marker(string path) => $"System.IO.File.WriteAllText(@\"{path}\", \"ran\");";

    static Dictionary<string, string?> Env(params (string Name, string? Value)[] vars) => vars.ToDictionary(v => v.Name, v => v.Value);

    [Fact]
    public void AnOutThatIsAFileIsRefusedBeforeAnyCellRuns()
    {
        var marker = Path.Combine(Dir, "marker");
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", Marker(marker));
        var file = Path.Combine(Dir, "taken");
        File.WriteAllText(file, "keep me");
        var r = KitProcess.Run("notebook", "run", nb, "--out", file);
        Assert.Equal(2, r.Exit);
        Assert.Contains("--out", r.Err);
        Assert.Contains("is a file", r.Err);
        Assert.False(File.Exists(marker), "a cell ran before --out was checked");
        Assert.Equal("keep me", File.ReadAllText(file));
    }

    [SkippableFact]
    public void AReadOnlyOutIsRefusedBeforeAnyCellRuns()
    {
        var readOnly = TestFolders.ReadOnlyFolder();
        Skip.If(readOnly is null, "no folder here is read-only for this user");
        var marker = Path.Combine(Dir, "marker");
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", Marker(marker));
        var r = KitProcess.Run("reproduce", "--notebooks", Path.GetDirectoryName(nb)!, "--out", readOnly!, "--scale", "quick");
        Assert.Equal(2, r.Exit);
        Assert.Contains("not writable", r.Err);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void AnOutThatIsALinkToTheNotebooksFolderIsRefusedAndTheSourceIsUntouched()
    {
        var folder = Path.Combine(Dir, "nbs");
        var nb = Notebook(folder, "a.ipynb", "1 + 1");
        var before = File.ReadAllText(nb);
        var link = Path.Combine(Dir, "out-link");
        Directory.CreateSymbolicLink(link, folder);
        var r = KitProcess.Run("notebook", "run", nb, "--out", link);
        Assert.Equal(2, r.Exit);
        Assert.Contains("overwrite the source", r.Err);
        Assert.Contains("a link to", r.Err);
        Assert.Equal(before, File.ReadAllText(nb));
        var again = KitProcess.Run("reproduce", "--notebooks", folder, "--out", link, "--scale", "quick");
        Assert.Equal(2, again.Exit);
        Assert.Equal(before, File.ReadAllText(nb));
    }

    [Fact]
    public void AnOutFolderThatVanishesMidRunKeepsTheExecutedCopyElsewhereAndSaysWhere()
    {
        var output = Path.Combine(Dir, "out");
        // The second cell replaces the out folder by a file, as a full disk or another program would make writes there fail.
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", "Console.WriteLine(\"first cell's output\");",
            $"System.IO.Directory.Delete(@\"{output}\", true); System.IO.File.WriteAllText(@\"{output}\", \"in the way\");", "Console.WriteLine(\"third\");");
        var r = KitProcess.Run("notebook", "run", nb, "--out", output);
        Assert.Equal(1, r.Exit);
        var saved = r.Err.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Match(l, @"saved at (\S+\.ipynb)")).First(m => m.Success).Groups[1].Value;
        Assert.True(File.Exists(saved), r.Err);
        Assert.Contains("first cell's output", File.ReadAllText(saved));
        Assert.Contains("third", File.ReadAllText(saved));
    }

    [Fact]
    public void ACacheThatIsAFileIsNamedBeforeAnyCellRuns()
    {
        var marker = Path.Combine(Dir, "marker");
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", Marker(marker));
        var file = Path.Combine(Dir, "cache-file");
        File.WriteAllText(file, "x");
        var r = KitProcess.Run(new[] { "notebook", "run", nb, "--out", Path.Combine(Dir, "out") }, environment: Env(("KIT_CACHE", file)));
        Assert.Equal(2, r.Exit);
        Assert.Contains("KIT_CACHE", r.Err);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void RelativeCacheAndOutMeanTheDirectoryKitWasRunFrom()
    {
        // The runner works inside the notebook's folder; relative paths must still mean where the user typed them.
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", "var scale = \"quick\"; // parameters",
            "Console.WriteLine(\"cache=\" + Kit.Core.KitPaths.CacheRoot); Console.WriteLine(\"data=\" + Environment.GetEnvironmentVariable(\"KIT_DATA\"));");
        // KIT_DATA must name a folder holding Fashion-MNIST's four files: stand-ins of two images each.
        foreach (var (file, dims) in new[] { ("train-images-idx3-ubyte", new[] { 2, 28, 28 }), ("train-labels-idx1-ubyte", new[] { 2 }), ("t10k-images-idx3-ubyte", new[] { 2, 28, 28 }), ("t10k-labels-idx1-ubyte", new[] { 2 }) })
            Kit.Data.IdxFile.Write(Path.Combine(Directory.CreateDirectory(Path.Combine(Dir, "data")).FullName, file), dims, new byte[dims.Aggregate(1, (a, b) => a * b)]);
        var r = KitProcess.Run(new[] { "reproduce", "--notebooks", "nbs", "--out", "runs/x", "--scale", "quick" }, workingDirectory: Dir,
            environment: Env(("KIT_CACHE", "cache"), ("KIT_DATA", "data")));
        Assert.True(r.Exit == 0, r.Err);
        Assert.True(File.Exists(Path.Combine(Dir, "runs", "x", "report.md")));
        Assert.False(Directory.Exists(Path.Combine(Dir, "nbs", "runs")));
        var executed = File.ReadAllText(Path.Combine(Dir, "runs", "x", "a.ipynb"));
        Assert.Contains("cache=" + Path.Combine(Dir, "cache"), executed);
        Assert.Contains("data=" + Path.Combine(Dir, "data"), executed);
    }

    [Fact]
    public void KitScaleIsHonouredByReproduceAndADisagreementIsAnError()
    {
        var folder = Path.Combine(Dir, "nbs");
        Notebook(folder, "a.ipynb", "var scale = \"default\"; // parameters", "Console.WriteLine(\"scale is \" + scale);");
        var run = Path.Combine(Dir, "run");
        var r = KitProcess.Run(new[] { "reproduce", "--notebooks", folder, "--out", run }, environment: Env(("KIT_SCALE", "quick")));
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("scale is quick", File.ReadAllText(Path.Combine(run, "a.ipynb")));
        Assert.Contains("Scale **quick**", File.ReadAllText(Path.Combine(run, "report.md")));
        var clash = KitProcess.Run(new[] { "reproduce", "--notebooks", folder, "--out", run, "--scale", "default" }, environment: Env(("KIT_SCALE", "quick")));
        Assert.Equal(2, clash.Exit);
        Assert.Contains("--scale default and KIT_SCALE=quick disagree", clash.Err);
    }

    [Theory]
    [InlineData("KIT_MALLOC", "tcmalloc")]
    [InlineData("KIT_OPTIONAL_DATA", "no")]
    [InlineData("KIT_SCALE", "quik")]
    [InlineData("KIT_SCAEL", "quick")]
    public void AnEnvironmentVariablesUnknownValueOrNameStopsEveryCommand(string name, string value)
    {
        var r = KitProcess.Run(new[] { "info" }, environment: Env((name, value)));
        Assert.Equal(2, r.Exit);
        Assert.Contains(name, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void ACellThatAbortsTheProcessIsReportedAndTheOtherNotebooksStillRun()
    {
        // TorchSharp's matmul of misfitting shapes throws a C++ exception nothing catches: the process aborts.
        var folder = Path.Combine(Dir, "nbs");
        Notebook(folder, "a.ipynb", "var scale = \"quick\"; // parameters", "Console.WriteLine(\"before the abort\");",
            "TorchSharp.torch.ones(2, 3).matmul(TorchSharp.torch.ones(4, 5));", "Console.WriteLine(\"never\");");
        Notebook(folder, "b.ipynb", "var scale = \"quick\"; // parameters", "Console.WriteLine(\"b ran\");");
        var run = Path.Combine(Dir, "run");
        var r = KitProcess.Run(new[] { "reproduce", "--notebooks", folder, "--out", run }, minutes: 4);
        Assert.Equal(1, r.Exit);
        var report = File.ReadAllText(Path.Combine(run, "report.md"));
        Assert.Contains("| [a.ipynb](a.failed.ipynb) | **failed** |", report);
        Assert.Contains("cell 3: the process ended", report);
        Assert.Contains("| [b.ipynb](b.ipynb) | ok |", report);
        Assert.Contains("b ran", File.ReadAllText(Path.Combine(run, "b.ipynb")));
        // The failed copy keeps the cells before the abort, with their outputs, and marks the cell that was running.
        var failed = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "a.failed.ipynb")))!["cells"]!.AsArray();
        JsonNode Cell(string source) => failed.First(c => c!["source"]!.ToJsonString().Contains(source))!;
        Assert.Contains("before the abort", Cell("before the abort")["outputs"]!.ToJsonString());
        Assert.Contains("ProcessEnded", Cell(".matmul(")["outputs"]!.ToJsonString());
        Assert.DoesNotContain("ProcessEnded", Cell("never")["outputs"]!.ToJsonString());
        Assert.False(File.Exists(Path.Combine(run, "a.running.ipynb")));
    }

    [Fact]
    public void AnAbortedSingleRunLeavesTheCopyUpToTheCellBefore()
    {
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", "Console.WriteLine(\"kept output\");", "TorchSharp.torch.ones(2, 3).matmul(TorchSharp.torch.ones(4, 5));");
        var output = Path.Combine(Dir, "out");
        var r = KitProcess.Run("notebook", "run", nb, "--out", output);
        Assert.NotEqual(0, r.Exit);
        var running = Path.Combine(output, "a.running.ipynb");
        Assert.True(File.Exists(running), r.Err);
        var text = File.ReadAllText(running);
        Assert.Contains("kept output", text);
        Assert.Contains("\"started_cell\": 2", text);
    }

    [Fact]
    public void TwoRunsIntoOneOutAreKeptApart()
    {
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", "System.Threading.Thread.Sleep(20_000);");
        var output = Path.Combine(Dir, "out");
        using var first = Process.Start(KitProcess.Start(new[] { "notebook", "run", nb, "--out", output }))!;
        _ = first.StandardOutput.ReadToEndAsync();
        _ = first.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(output, "a.ipynb.lock")) && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(100);
        var second = KitProcess.Run("notebook", "run", nb, "--out", output);
        first.Kill(entireProcessTree: true);
        first.WaitForExit();
        Assert.Equal(2, second.Exit);
        Assert.Contains("another kit run is writing", second.Err);
    }

    [Fact]
    public void NotebooksGivenAFileSaysItIsAFile()
    {
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", "1");
        var r = KitProcess.Run("reproduce", "--notebooks", nb, "--out", Path.Combine(Dir, "run"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("is a file; expected a folder of notebooks", r.Err);
        Assert.Contains("kit notebook run", r.Err);
    }

    [Fact]
    public void CompareGivenAFileThatIsNoNotebookSaysSoInOneLine()
    {
        var nb = Notebook(Path.Combine(Dir, "nbs"), "a.ipynb", "1");
        var other = Path.Combine(Dir, "notes.txt");
        File.WriteAllText(other, "not json");
        var r = KitProcess.Run("notebook", "compare", nb, other);
        Assert.Equal(2, r.Exit);
        Assert.Contains("notes.txt", r.Err);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void TheReportSaysWhetherTheOptionalDataWasUsed()
    {
        var folder = Path.Combine(Dir, "nbs");
        Notebook(folder, "a.ipynb", "var scale = \"quick\"; // parameters", "1 + 1");
        var run = Path.Combine(Dir, "run");
        var r = KitProcess.Run(new[] { "reproduce", "--notebooks", folder, "--out", run }, environment: Env(("KIT_OPTIONAL_DATA", "ignore")));
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("Optional data: WordNet hidden by KIT_OPTIONAL_DATA=ignore; Fashion-MNIST hidden by KIT_OPTIONAL_DATA=ignore", File.ReadAllText(Path.Combine(run, "report.md")));
    }
}

public sealed class PackMessageTests : TempDirectoryTest
{
    [Fact]
    public void APackIntoAnotherFolderDoesNotClaimTheNotebooksFindIt()
    {
        Assert.Contains("now find it", Kit.Cli.Commands.PackMessage(Path.Combine(Dir, ".kit-feed"), Dir));
        var elsewhere = Kit.Cli.Commands.PackMessage(Path.Combine(Dir, "elsewhere"), Dir);
        Assert.DoesNotContain("now find it", elsewhere);
        Assert.Contains("will not find this pack", elsewhere);
        // A link to the named feed is the named feed.
        Directory.CreateDirectory(Path.Combine(Dir, ".kit-feed"));
        Directory.CreateSymbolicLink(Path.Combine(Dir, "feed-link"), Path.Combine(Dir, ".kit-feed"));
        Assert.Contains("now find it", Kit.Cli.Commands.PackMessage(Path.Combine(Dir, "feed-link"), Dir));
    }
}
