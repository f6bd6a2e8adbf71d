// The kit command as a careless user meets it: each test runs the built command in its own process (exit code,
// standard output and error), so what is checked is what a shell prints, not what a method returns.
using System.Diagnostics;
using Kit.Cli.Notebooks;
using Kit.Notebook;

namespace Kit.Tests;

public sealed class CommandLineTests : TempDirectoryTest
{
    static ProcessStartInfo Command(IEnumerable<string> args) => KitProcess.Start(args);

    static KitProcess.Outcome Kit(params string[] args) => KitProcess.Run(args);

    string Notebook(string name, params string[] codeCells)
    {
        var path = Path.Combine(Dir, name);
        NotebookFile.Save(NotebookFile.Create(codeCells.Select(c => ("code", c, (string[]?)(c.Contains("// parameters") ? new[] { "parameters" } : null))).ToArray()), path);
        return path;
    }

    [Theory]
    [InlineData("reproduce")]
    [InlineData("notebook run")]
    [InlineData("notebook export")]
    [InlineData("notebook jupyter")]
    [InlineData("notebook compare")]
    [InlineData("pack")]
    [InlineData("info")]
    [InlineData("bench")]
    public void EveryCommandAnswersHelpWithItsOwnUsage(string command)
    {
        var r = Kit(command.Split(' ').Append("--help").ToArray());
        Assert.Equal(0, r.Exit);
        Assert.Contains($"usage: kit {command}", r.Out);
    }

    [Fact]
    public void TheGeneralHelpListsEveryCommandAndNotebookHelpListsItsSubcommands()
    {
        var general = Kit("--help");
        Assert.Equal(0, general.Exit);
        foreach (var c in new[] { "reproduce", "notebook run", "notebook jupyter", "notebook compare", "notebook export", "pack", "info", "bench" })
            Assert.Contains($"kit {c}", general.Out);
        var notebook = Kit("notebook", "--help");
        Assert.Equal(0, notebook.Exit);
        foreach (var sub in new[] { "run", "jupyter", "compare", "export" }) Assert.Contains($"usage: kit notebook {sub}", notebook.Out);
    }

    [Theory]
    [InlineData("notebook", "needs a subcommand")]
    [InlineData("notebook run", "needs a notebook path")]
    [InlineData("notebook export", "needs a notebook path")]
    public void AMissingPartIsNamedNotAnUnknownCommand(string command, string expected)
    {
        var r = Kit(command.Split(' '));
        Assert.Equal(2, r.Exit);
        Assert.Contains(expected, r.Err);
        Assert.DoesNotContain("unknown command", r.Err);
        Assert.Contains("usage: kit", r.Err); // followed by the usage that says what to give
    }

    [Fact]
    public void AnEmptyNotebooksFolderIsAnErrorAndWritesNoReport()
    {
        var empty = Directory.CreateDirectory(Path.Combine(Dir, "empty")).FullName;
        var run = Path.Combine(Dir, "run");
        var r = Kit("reproduce", "--notebooks", empty, "--out", run, "--scale", "quick");
        Assert.Equal(2, r.Exit);
        Assert.Contains(empty, r.Err);
        Assert.Contains("no notebooks", r.Err);
        Assert.False(File.Exists(Path.Combine(run, "report.md")));
    }

    [Fact]
    public void ExportRefusesAParameterTheNotebookDoesNotDeclareAndWritesNothing()
    {
        var nb = Notebook("p.ipynb", "// parameters\nvar seed = 1;", "Console.WriteLine(seed);");
        var app = Path.Combine(Dir, "p.cs");
        var unknown = Kit("notebook", "export", nb, "--param", "nosuch=1", "--out", app);
        Assert.Equal(2, unknown.Exit);
        Assert.Contains("nosuch", unknown.Err);
        Assert.False(File.Exists(app));
        var mistyped = Kit("notebook", "export", nb, "--param", "seed=abc", "--out", app);
        Assert.Equal(2, mistyped.Exit);
        Assert.Contains("seed", mistyped.Err);
        Assert.False(File.Exists(app));
        Assert.Equal(0, Kit("notebook", "export", nb, "--param", "seed=7", "--out", app).Exit); // the same command with a right value writes it
        Assert.Contains("seed = 7;", File.ReadAllText(app));
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("{\"nbformat\": \"4\", \"cells\": []}")]
    [InlineData("{\"nbformat\": 4}")]
    public void JsonThatIsNotANotebookIsAOneLineErrorNamingTheFile(string json)
    {
        var path = Path.Combine(Dir, "not-a-notebook.ipynb");
        File.WriteAllText(path, json);
        var r = Kit("notebook", "run", path, "--out", Path.Combine(Dir, "out"));
        Assert.Equal(2, r.Exit);
        // "kit: running …", then the error as one line: no stack trace, no exception type.
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal));
        Assert.Contains("not-a-notebook.ipynb", lines[^1]);
        Assert.Contains("expected", lines[^1]); // what a notebook has that this file lacks
        Assert.True(lines.Length <= 2, r.Err);
        Assert.DoesNotContain("Exception", r.Err);
    }

    [Fact]
    public void AFolderGivenAsANotebookIsNamedAsAFolder()
    {
        var r = Kit("notebook", "run", Dir, "--out", Path.Combine(Dir, "out"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("folder", r.Err);
        Assert.Contains(Dir, r.Err);
    }

    [Fact]
    public void ErrorsNameTheUsersValueNotTheCodesParameter()
    {
        var nb = Notebook("s.ipynb", "// parameters\nvar scale = \"quick\";");
        var r = Kit("notebook", "run", nb, "--scale", "quik", "--out", Path.Combine(Dir, "out"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("quik", r.Err);
        Assert.DoesNotContain("(Parameter '", r.Err);
    }

    [Fact]
    public void InfoNamesTheAllocatorTheCacheAndTheOptionalData()
    {
        var r = Kit("info");
        Assert.Equal(0, r.Exit);
        Assert.Contains("allocator: ", r.Out);
        Assert.Contains("cache: ", r.Out);
        Assert.Contains("Fashion-MNIST: ", r.Out);
        Assert.Contains("WordNet: ", r.Out);
    }

    [Fact]
    public void AnInterruptedReproduceKeepsTheFinishedNotebooksAndItsReportSaysWhereItStopped()
    {
        var folder = Directory.CreateDirectory(Path.Combine(Dir, "nbs")).FullName;
        NotebookFile.Save(NotebookFile.Create(new[] { ("code", "// parameters\nvar scale = \"quick\";", (string[]?)new[] { "parameters" }), ("code", "1 + 1", (string[]?)null) }), Path.Combine(folder, "a.ipynb"));
        NotebookFile.Save(NotebookFile.Create(new[] { ("code", "// parameters\nvar scale = \"quick\";", (string[]?)new[] { "parameters" }), ("code", "System.Threading.Thread.Sleep(120_000);", (string[]?)null) }), Path.Combine(folder, "b.ipynb"));
        var run = Path.Combine(Dir, "run");
        var report = Path.Combine(run, "report.md");
        using var p = Process.Start(Command(new[] { "reproduce", "--notebooks", folder, "--out", run, "--scale", "quick" }))!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        // The report is written as each notebook finishes: a.ipynb is in it while b.ipynb still sleeps.
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(report) && File.ReadAllText(report).Contains("a.ipynb")) && clock.Elapsed < TimeSpan.FromSeconds(90) && !p.HasExited) Thread.Sleep(200);
        Assert.False(p.HasExited, "reproduce ended before its second notebook was interrupted");
        Assert.Contains("a.ipynb", File.ReadAllText(report));
        Thread.Sleep(1000); // b.ipynb has started
        // Ctrl-C is SIGINT; where this test host ignores SIGINT (a `dotnet test &` from a script: the shell ignores it for
        // background jobs, and children inherit that), the same stop is asked with SIGTERM, which reproduce handles alike.
        using (var kill = Process.Start("kill", new[] { SigintIgnored() ? "-TERM" : "-INT", p.Id.ToString() })) kill.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "reproduce did not stop on Ctrl-C");
        var text = File.ReadAllText(report);
        Assert.Contains("**Interrupted** while b.ipynb was running", text);
        Assert.Contains("| b.ipynb | **interrupted** |", text);
        Assert.True(File.Exists(Path.Combine(run, "a.ipynb")), "the finished notebook's executed copy is kept");
        Assert.Contains("interrupted during b.ipynb", stderr.Result);
    }

    // Bit 2 (SIGINT) of the ignored-signals mask in /proc/self/status.
    static bool SigintIgnored() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) is string line
        && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;

    [Fact]
    public void AnExportedAppsChartsEachOpenOfflineUnderTheirTitles()
    {
        var previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = Dir;
        try
        {
            var sink = new ConsoleSink();
            sink.Display(Charts.Line("Training loss", new double[] { 3, 2, 1 }));
            sink.Display(Charts.Line("Codebook usage", new double[] { 0.1, 0.5, 0.9 }));
            sink.Display(Charts.Line("Training loss", new double[] { 4, 2, 1 }));
            var folder = Path.Combine(Dir, "kit-output");
            var pages = new[] { "training-loss.html", "codebook-usage.html", "training-loss-2.html" };
            Assert.Equal(pages.Order(), Directory.GetFiles(folder, "*.html").Select(Path.GetFileName).Order());
            var plotly = Path.Combine(folder, "plotly.min.js");
            Assert.True(new FileInfo(plotly).Length > 100_000, "plotly.js is written beside the pages");
            foreach (var page in pages)
                Assert.Contains("<script src=\"plotly.min.js\"", File.ReadAllText(Path.Combine(folder, page))); // every page, not only the first
        }
        finally { Environment.CurrentDirectory = previous; }
    }
}
