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
public sealed record NotebookRunResult(string Notebook, string ExecutedPath, bool Succeeded, NotebookCellException? Failure,
    double Seconds, IReadOnlyList<DisplayedArtifact> Artifacts, string? Title, string? KeptCopy = null);

/// <summary>Executes notebooks cell by cell on the .NET Interactive C# kernel.</summary>
public static class NotebookRunner
{
    static readonly FieldInfo? ScriptOptionsField = typeof(CSharpKernel).GetField("_scriptOptions", BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>
    /// Runs <paramref name="notebookPath"/>, writing the executed copy into <paramref name="outDirectory"/>.
    /// <paramref name="parameters"/> override variables of the cell tagged "parameters"; <paramref name="log"/> gets one
    /// line per cell and the progress of long loops.
    /// </summary>
    public static async Task<NotebookRunResult> RunAsync(string notebookPath, string outDirectory, IReadOnlyDictionary<string, string>? parameters = null, TextWriter? log = null)
    {
        log ??= TextWriter.Null;
        var doc = NotebookFile.Load(notebookPath);
        var (executedPath, failedPath) = OutputPaths(notebookPath, outDirectory);
        // A copy saved over its source carries the cell an earlier run injected; it would win over this run's.
        var staleCells = doc.Elements.Where(e => NotebookFile.Tags(e).Contains(NotebookFile.InjectedTag)).ToList();
        foreach (var e in staleCells) doc.Elements.Remove(e);
        int stale = staleCells.Count;
        if (stale > 0) log.WriteLine($"  dropped {stale} earlier injected-parameters cell(s) from {Path.GetFileName(notebookPath)}");
        var overrides = new Dictionary<string, string>(parameters ?? new Dictionary<string, string>());
        var clock = Stopwatch.StartNew();
        var artifacts = new List<DisplayedArtifact>();
        NotebookCellException? failure = null;
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
                var cellClock = Stopwatch.StartNew();
                failure = cell.KernelName is "csharp" or "C#" or "c#"
                    ? await Execute(kernel, csharp, cell, number, ++executionCount, artifacts)
                    : new NotebookCellException(number, 0, "", $"the cell's language is '{cell.KernelName}'; the runner runs C# cells only.");
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
                catch (ArgumentException e) { failure = new NotebookCellException(number, 0, "", e.Message); Fail(cell, failure); continue; }
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
            ["parameters"] = (parameters ?? new Dictionary<string, string>()).ToDictionary(kv => kv.Key, kv => (object)kv.Value),
            ["succeeded"] = failure is null,
        };
        Directory.CreateDirectory(outDirectory);
        string written = failure is null ? executedPath : failedPath;
        NotebookFile.Save(doc, written);
        if (failure is null && File.Exists(failedPath)) File.Delete(failedPath); // superseded by this good run
        GC.Collect(); // the kernel's script state held the notebook's tensors
        return new NotebookRunResult(notebookPath, written, failure is null, failure, clock.Elapsed.TotalSeconds, artifacts,
            NotebookFile.Title(doc), failure is not null && File.Exists(executedPath) ? executedPath : null);
    }

    /// <summary>
    /// Where a run of <paramref name="notebookPath"/> writes: the executed copy and, for a failed run, the copy beside
    /// it (name.failed.ipynb). Neither may be the source itself.
    /// </summary>
    public static (string Executed, string Failed) OutputPaths(string notebookPath, string outDirectory)
    {
        var executed = Path.GetFullPath(Path.Combine(outDirectory, Path.GetFileName(notebookPath)));
        var failed = Path.ChangeExtension(executed, ".failed.ipynb");
        var source = Path.GetFullPath(notebookPath);
        if (executed == source || failed == source)
            throw new ArgumentException($"--out '{outDirectory}' is the notebook's own folder: the executed copy would overwrite the source '{notebookPath}'. " +
                "Choose another folder (the default is runs/notebooks).");
        return (executed, failed);
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
            .Where(a => !a.IsDynamic && !string.IsNullOrEmpty(a.Location) && Path.GetFullPath(a.Location).StartsWith(own, StringComparison.Ordinal))
            .Where(a => a.GetName().Name is { } n && !n.StartsWith("Microsoft.DotNet.Interactive", StringComparison.Ordinal)
                && !n.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) && n != "Kit.Cli")
            .Select(a => a.Location);
    }

    /// <summary>Submits one cell; returns the failure, or null when it ran.</summary>
    static async Task<NotebookCellException?> Execute(CompositeKernel kernel, CSharpKernel csharp, InteractiveDocumentElement cell, int number, int executionCount, List<DisplayedArtifact> artifacts)
    {
        var outputs = new CellOutputs(cell.Outputs, artifacts, number);
        if (ScriptOptionsField?.GetValue(csharp) is ScriptOptions options)
            ScriptOptionsField.SetValue(csharp, options.WithEmitDebugInformation(true).WithFilePath($"cell-{number}").WithFileEncoding(System.Text.Encoding.UTF8));
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

    static Exception Unwrap(Exception e) => e is TargetInvocationException { InnerException: { } inner } ? Unwrap(inner) : e is AggregateException { InnerException: { } agg } ? Unwrap(agg) : e;

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
            return new NotebookCellException(cell, at, LineText(at), at > 0 ? $"`{LineText(at)}` failed: {failed.Message.Trim()}" : failed.Message.Trim());
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
