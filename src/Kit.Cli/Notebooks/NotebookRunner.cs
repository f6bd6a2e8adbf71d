// Runs a Polyglot C# notebook headless on the real .NET Interactive C# kernel (Microsoft.DotNet.Interactive.CSharp),
// in process: the kernel VS Code and Jupyter launch executes the cells, its formatters make the outputs, its NuGet
// directive resolves any package a cell asks for. What the runner adds, papermill's way: the cell tagged "parameters"
// is overridden by an injected cell right after it; the first failing cell stops the run with its number, its line and
// the exception; the executed copy is written beside the source — never over it — and a failed run never replaces
// the last good copy. Two things are hand-written here because the library has no switch for them: the kit's own
// packages are satisfied by this build (CellPreprocessor says why), and each cell is compiled with debug information
// under the name "cell-N" (a private field of the kernel, set by reflection; without it a runtime error names no line).
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Kit.Core;
using Kit.Notebook;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace Kit.Cli.Notebooks;

/// <summary>How a run ended.</summary>
/// <param name="ExecutedPath">The executed copy this run wrote (for a failed run, the ".failed" copy beside the good one).</param>
/// <param name="KeptCopy">For a failed run, the last good executed copy it left in place (null when there was none).</param>
/// <param name="SavedElsewhere">Why the executed copy is not in the out folder (a write that failed there), when it is not; ExecutedPath
/// then names where it is.</param>
public sealed record NotebookRunResult(string Notebook, string ExecutedPath, bool Succeeded, NotebookCellException? Failure,
    double Seconds, IReadOnlyList<DisplayedArtifact> Artifacts, string? Title, string? KeptCopy = null, string? SavedElsewhere = null);

/// <summary>Where a run of a notebook writes, all beside each other in the out folder.</summary>
/// <param name="Executed">The executed copy of a run that succeeded (name.ipynb).</param>
/// <param name="Failed">The copy of a run that failed (name.failed.ipynb); the last good executed copy is left as it was.</param>
/// <param name="Running">The copy so far, rewritten before each cell (name.running.ipynb): what is left when the process dies.</param>
public sealed record NotebookOutputs(string Executed, string Failed, string Running);

/// <summary>Executes notebooks cell by cell on the .NET Interactive C# kernel.</summary>
public static class NotebookRunner
{
    static readonly FieldInfo? ScriptOptionsField = typeof(CSharpKernel).GetField("_scriptOptions",
        BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>
    /// Runs <paramref name="notebookPath"/>, writing the executed copy into <paramref name="outDirectory"/>.
    /// <paramref name="parameters"/> override variables of the cell tagged "parameters"; <paramref name="log"/> gets one
    /// line per cell and the progress of long loops.
    /// </summary>
    public static async Task<NotebookRunResult> RunAsync(string notebookPath, string outDirectory,
        IReadOnlyDictionary<string, string>? parameters = null, TextWriter? log = null)
    {
        log ??= TextWriter.Null;
        var doc = NotebookFile.Load(notebookPath);
        var paths = OutputPaths(notebookPath, outDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(paths.Executed)!);
        using var runLock = RunLock.Acquire(paths.Executed, "--out");
        // A copy saved over its source carries the cell an earlier run injected; it would win over this run's.
        var staleCells = doc.Elements.Where(e => NotebookFile.Tags(e).Contains(NotebookFile.InjectedTag)).ToList();
        foreach (var e in staleCells) doc.Elements.Remove(e);
        int stale = staleCells.Count;
        if (stale > 0) log.WriteLine($"  dropped {stale} earlier injected-parameters cell(s) from {Path.GetFileName(notebookPath)}");
        var overrides = new Dictionary<string, string>(parameters ?? new Dictionary<string, string>());
        var clock = Stopwatch.StartNew();
        var artifacts = new List<DisplayedArtifact>();
        NotebookCellException? failure = null;
        bool progressWarned = false;
        // Before each cell the copy so far is written (cells before it with their outputs, this one marked as started), so
        // a process that dies in a cell — a native abort — leaves everything up to the cell before, and names the cell.
        void SaveProgress(int startedCell)
        {
            doc.Metadata["kit"] = new Dictionary<string, object> { ["running"] = true, ["started_cell"] = startedCell,
                ["parameters"] = Parameters(parameters) };
            try { NotebookFile.Save(doc, paths.Running); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (!progressWarned) log.WriteLine($"  could not write the copy so far to {paths.Running} ({e.Message}); the run goes on");
                progressWarned = true;
            }
        }
        var previousDirectory = Environment.CurrentDirectory;
        Environment.CurrentDirectory = Path.GetDirectoryName(Path.GetFullPath(notebookPath))!; // the kernel's working directory too
        ChartView.ResetPlotlyEmbedding();
        var (kernel, csharp) = CreateKernel();
        using var progress = kernel.KernelEvents.Subscribe(new ProgressEcho(log));
        try
        {
            int executionCount = 0, injected = 0;
            bool parametersSeen = false;
            for (int i = 0; i < doc.Elements.Count; i++)
            {
                var cell = doc.Elements[i];
                if (!NotebookFile.IsCode(cell)) continue;
                cell.Outputs.Clear();
                cell.ExecutionOrder = 0;
                if (failure is not null) continue; // cells after a failure keep no stale outputs
                int number = i + 1 - injected;     // cell numbers in messages refer to the notebook as written
                SaveProgress(number);
                var cellClock = Stopwatch.StartNew();
                failure = cell.KernelName is "csharp" or "C#" or "c#"
                    ? await Execute(kernel, csharp, cell, number, ++executionCount, artifacts)
                    : new NotebookCellException(number, 0, "",
                        $"the cell's language is '{cell.KernelName}'; the runner runs C# cells only.");
                if (failure is not null) { Fail(cell, failure); continue; }
                cell.Metadata ??= new Dictionary<string, object>();
                cell.Metadata["kit"] = new Dictionary<string, object> { ["duration_s"] = Math.Round(cellClock.Elapsed.TotalSeconds, 3) };
                log.WriteLine($"  cell {number} ok ({cellClock.Elapsed.TotalSeconds:0.0}s)");

                if (!NotebookFile.Tags(cell).Contains(NotebookFile.ParametersTag) || parametersSeen) continue;
                parametersSeen = true;
                if (overrides.Count == 0) continue;
                var declared = csharp.ScriptState.Variables.GroupBy(v => v.Name).ToDictionary(g => g.Key, g => g.Last().Type);
                string code;
                try { code = NotebookParameters.Assignments(declared, overrides, "`kit notebook run`"); }
                catch (ArgumentException e) { failure = new NotebookCellException(number, 0, "", e.Message); Fail(cell,
                    failure); continue; }
                var injectedCell = NotebookFile.Cell("csharp", code, NotebookFile.InjectedTag);
                doc.Elements.Insert(i + 1, injectedCell);
                i++; injected++;
                failure = await Execute(kernel, csharp, injectedCell, number, ++executionCount, artifacts);
                if (failure is not null) Fail(injectedCell, failure);
                overrides.Clear();
            }
            if (failure is null && !parametersSeen && overrides.Count > 0)
                failure = new NotebookCellException(0, 0, "",
                    $"parameters {string.Join(", ", overrides.Keys)} were given, but the notebook has no cell tagged 'parameters'.");
        }
        finally
        {
            kernel.Dispose();
            Environment.CurrentDirectory = previousDirectory;
        }
        doc.Metadata["kit"] = new Dictionary<string, object>
        {
            ["executed_at"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["duration_s"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["parameters"] = Parameters(parameters),
            ["succeeded"] = failure is null,
        };
        string written = failure is null ? paths.Executed : paths.Failed;
        string? elsewhere = null;
        try { NotebookFile.Save(doc, written); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The cells ran: their outputs are kept even when the out folder can no longer take them (a full disk, a folder gone).
            elsewhere = $"{written} could not be written ({e.Message})";
            written = Path.Combine(Path.GetTempPath(), "kit-unsaved-runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss",
                CultureInfo.InvariantCulture), Path.GetFileName(written));
            NotebookFile.Save(doc, written);
            log.WriteLine($"  {elsewhere}; the executed copy is at {written}");
        }
        TryDelete(paths.Running);
        if (failure is null && elsewhere is null) TryDelete(paths.Failed); // superseded by this good run
        GC.Collect(); // the kernel's script state held the notebook's tensors
        return new NotebookRunResult(notebookPath, written, failure is null, failure, clock.Elapsed.TotalSeconds, artifacts,
            NotebookFile.Title(doc), failure is not null && File.Exists(paths.Executed) ? paths.Executed : null, elsewhere);
    }

    static Dictionary<string, object> Parameters(IReadOnlyDictionary<string, string>? parameters) =>
        (parameters ?? new Dictionary<string, string>()).ToDictionary(kv => kv.Key, kv => (object)kv.Value);

    static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Where a run of <paramref name="notebookPath"/> writes in <paramref name="outDirectory"/>. None may be the source itself:
    /// links are followed before the paths are compared, so an out folder that is a link to the notebook's folder is refused too.
    /// </summary>
    public static NotebookOutputs OutputPaths(string notebookPath, string outDirectory)
    {
        var folder = KitPaths.RealPath(outDirectory);
        var name = Path.GetFileName(notebookPath);
        var outputs = new NotebookOutputs(Path.Combine(folder, name), Path.Combine(folder, Path.ChangeExtension(name, ".failed.ipynb")),
            Path.Combine(folder, Path.ChangeExtension(name, ".running.ipynb")));
        var source = KitPaths.RealPath(notebookPath);
        if (new[] { outputs.Executed, outputs.Failed, outputs.Running }.Contains(source))
            throw new ArgumentException($"--out '{outDirectory}' is " +
                $"{(folder == Path.GetFullPath(outDirectory) ? "" : $"a link to {Path.GetDirectoryName(source)}, ")}the notebook's own " +
                    $"folder: " +
                $"the executed copy would overwrite the source '{notebookPath}'. Choose another folder (the default is runs/notebooks).");
        return outputs;
    }

    static (CompositeKernel Kernel, CSharpKernel CSharp) CreateKernel()
    {
        var csharp = new CSharpKernel()
            .UseNugetDirective((k, references) =>
            {
                k.AddAssemblyReferences(references.SelectMany(r => r.AssemblyPaths));
                return Task.CompletedTask;
            })
            .UseKernelHelpers();
        csharp.AddAssemblyReferences(CarriedAssemblies());
        var kernel = new CompositeKernel { csharp };
        kernel.DefaultKernelName = csharp.Name;
        KernelFormatters.TryRegister(); // the kernel's Formatter is loaded now: Plotly.NET charts get the kit's offline HTML
        return (kernel, csharp);
    }

    // The kit and the packages it carries, as this build loaded them (see CellPreprocessor), with what they reference.
    static IEnumerable<string> CarriedAssemblies()
    {
        _ = new[] { typeof(Kit.Core.KitRuntime), typeof(TorchSharp.torch), typeof(SkiaSharp.SKBitmap), typeof(Plotly.NET.GenericChart),
            typeof(Plotly.NET.CSharp.Chart), typeof(Microsoft.Data.Analysis.DataFrame), typeof(Microsoft.FSharp.Core.FSharpOption<int>),
            typeof(Microsoft.ML.Tokenizers.Tokenizer) };
        var own = Path.GetFullPath(AppContext.BaseDirectory);
        return AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && !string.IsNullOrEmpty(a.Location) && Path.GetFullPath(a.Location).StartsWith(own,
                StringComparison.Ordinal))
            .Where(a => a.GetName().Name is { } n && !n.StartsWith("Microsoft.DotNet.Interactive", StringComparison.Ordinal)
                && !n.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) && n != "Kit.Cli")
            .Select(a => a.Location);
    }

    /// <summary>Submits one cell; returns the failure, or null when it ran.</summary>
    static async Task<NotebookCellException?> Execute(CompositeKernel kernel, CSharpKernel csharp, InteractiveDocumentElement cell,
        int number, int executionCount, List<DisplayedArtifact> artifacts)
    {
        var outputs = new CellOutputs(cell.Outputs, artifacts, number);
        if (ScriptOptionsField?.GetValue(csharp) is ScriptOptions options)
            ScriptOptionsField.SetValue(csharp,
                options.WithEmitDebugInformation(true).WithFilePath($"cell-{number}").WithFileEncoding(System.Text.Encoding.UTF8));
        var result = await kernel.SendAsync(new SubmitCode(CellPreprocessor.Prepare(cell.Contents), csharp.Name));
        foreach (var e in result.Events) outputs.Add(e, executionCount);
        if (result.Events.OfType<CommandFailed>().FirstOrDefault() is not { } failed)
        {
            cell.ExecutionOrder = executionCount;
            return null;
        }
        var failure = Describe(failed, result.Events.OfType<DiagnosticsProduced>().SelectMany(d => d.Diagnostics), cell.Contents, number);
        var inner = failed.Exception is null ? null : Unwrap(failed.Exception);
        outputs.Error(inner?.GetType().Name ?? "CommandFailed", inner?.Message ?? failed.Message,
            new[] { failure.Message }.Concat((inner?.StackTrace ?? "").Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0)));
        return failure;
    }

    static void Fail(InteractiveDocumentElement cell, NotebookCellException failure)
    {
        if (cell.Outputs.OfType<ErrorElement>().Any()) return;
        cell.Outputs.Add(new ErrorElement(failure.Message, "NotebookCellError", new[] { failure.Message }));
    }

    static Exception Unwrap(Exception e)
        => e is TargetInvocationException { InnerException: { } inner }
            ? Unwrap(inner) : e is AggregateException { InnerException: { } agg } ? Unwrap(agg) : e;

    /// <summary>The failing cell, line and reason of a failed submission.</summary>
    static NotebookCellException Describe(CommandFailed failed, IEnumerable<Diagnostic> diagnostics, string source, int cell)
    {
        var lines = source.Replace("\r\n", "\n").Split('\n');
        string LineText(int line) => line >= 1 && line <= lines.Length ? lines[line - 1].Trim() : "";
        var errors = diagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0)
        {
            int line = errors[0].LinePositionSpan.Start.Line + 1;
            var all = string.Join("; ", errors.Take(5).Select(d => d.Message));
            return new NotebookCellException(cell, line, LineText(line), $"`{LineText(line)}` does not compile: {all}");
        }
        if (failed.Exception is null)
        {
            // A directive the kernel refused (a package it cannot find, say): name the directive's line when the message names it
            // (the longest name the message holds: "Kit" is part of "Kit.Something").
            int at = lines.Select((l, i) => (Package: CellPreprocessor.ReferencedPackage(l), Line: i + 1))
                .Where(x => x.Package is not null && failed.Message.Contains(x.Package, StringComparison.OrdinalIgnoreCase))
                .OrderByDescending(x => x.Package!.Length).Select(x => x.Line).FirstOrDefault();
            return new NotebookCellException(cell, at, LineText(at),
                at > 0 ? $"`{LineText(at)}` failed: {failed.Message.Trim()}" : failed.Message.Trim());
        }
        var inner = Unwrap(failed.Exception);
        var match = System.Text.RegularExpressions.Regex.Match(inner.StackTrace ?? "", $@"cell-{cell}:line (\d+)");
        int thrownAt = match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var where = thrownAt > 0 ? $"`{LineText(thrownAt)}` threw " : "threw ";
        return new NotebookCellException(cell, thrownAt, LineText(thrownAt), $"{where}{inner.GetType().Name}: {inner.Message}", inner);
    }

    // Headless, progress bars have no screen: their updates become lines on the log, at most one every 5 s per bar.
    sealed class ProgressEcho : IObserver<KernelEvent>
    {
        readonly TextWriter _log;
        readonly Dictionary<string, Stopwatch> _last = new(StringComparer.Ordinal);
        public ProgressEcho(TextWriter log) => _log = log;

        public void OnNext(KernelEvent value)
        {
            if (value is not DisplayEvent { Value: ProgressView view, ValueId: { } id }) return;
            bool done = view.Step >= view.Total;
            lock (_last)
            {
                if (_last.TryGetValue(id, out var since) && since.Elapsed.TotalSeconds < 5 && !done) return;
                _last[id] = Stopwatch.StartNew();
            }
            _log.WriteLine($"    {view.ToPlainText()}");
        }

        public void OnError(Exception error) { }
        public void OnCompleted() { }
    }
}
