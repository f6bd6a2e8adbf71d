// Runs a Polyglot C# notebook headless with Roslyn scripting: one script state shared by every cell (as
// in the C# kernel), the parameters cell overridable as papermill does, outputs captured into an
// executed copy. The first failing cell stops the run; the copy keeps every output up to it.
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kit.Notebook;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace Kit.Cli.Notebooks;

/// <summary>Variables every cell sees, as in the C# kernel: <c>display(x)</c>.</summary>
public sealed class NotebookGlobals
{
    /// <summary>Shows a value as a cell output; returns a handle that can replace it.</summary>
    public IDisplayHandle display(object value) => Display.Show(value);
}

/// <summary>How a run ended.</summary>
public sealed record NotebookRunResult(string Notebook, string ExecutedPath, bool Succeeded, NotebookCellException? Failure,
    double Seconds, IReadOnlyList<DisplayedArtifact> Artifacts, string? Title);

/// <summary>Executes notebooks cell by cell.</summary>
public static class NotebookRunner
{
    /// <summary>The imports the .NET Interactive C# kernel starts with, so a cell that runs here runs there.</summary>
    public static readonly string[] KernelImports =
        { "System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq" };

    static readonly Lazy<ScriptOptions> BaseOptions = new(() =>
    {
        // Make sure the packages the runner carries are loaded, then reference everything loaded.
        _ = new[] { typeof(Kit.Core.KitRuntime), typeof(TorchSharp.torch), typeof(SkiaSharp.SKBitmap), typeof(Plotly.NET.GenericChart),
            typeof(Plotly.NET.CSharp.Chart), typeof(Microsoft.Data.Analysis.DataFrame), typeof(Microsoft.FSharp.Core.FSharpOption<int>) };
        var assemblies = AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && !string.IsNullOrEmpty(a.Location));
        return ScriptOptions.Default.WithReferences(assemblies).WithImports(KernelImports)
            .WithEmitDebugInformation(true).WithFileEncoding(System.Text.Encoding.UTF8)
            .WithLanguageVersion(LanguageVersion.Preview);
    });

    /// <summary>
    /// Runs <paramref name="notebookPath"/>, writing the executed copy into <paramref name="outDirectory"/>.
    /// <paramref name="parameters"/> override variables of the cell tagged "parameters".
    /// </summary>
    public static async Task<NotebookRunResult> RunAsync(string notebookPath, string outDirectory, IReadOnlyDictionary<string, string>? parameters = null, TextWriter? log = null)
    {
        log ??= Console.Error;
        var doc = NotebookDocument.Load(notebookPath);
        var overrides = new Dictionary<string, string>(parameters ?? new Dictionary<string, string>());
        var executedPath = Path.Combine(outDirectory, Path.GetFileName(notebookPath));
        Directory.CreateDirectory(outDirectory);
        var clock = Stopwatch.StartNew();
        var collector = new OutputCollector();
        var (previousOut, previousSink, previousDirectory) = (Console.Out, Display.Sink, Environment.CurrentDirectory);
        NotebookCellException? failure = null;
        var title = doc.Cells.Where(c => c.CellType == "markdown").Select(c => Regex.Match(c.Source, @"^#\s+(.+)$", RegexOptions.Multiline))
            .FirstOrDefault(m => m.Success)?.Groups[1].Value.Trim();
        try
        {
            Console.SetOut(collector);
            Display.Sink = collector;
            ChartView.ResetPlotlyEmbedding();
            Environment.CurrentDirectory = Path.GetDirectoryName(Path.GetFullPath(notebookPath))!; // the kernel's working directory too
            ScriptState<object>? state = null;
            int executionCount = 0;
            bool parametersSeen = false;
            int injectedCells = 0; // cell numbers in messages refer to the notebook as written
            for (int i = 0; i < doc.Cells.Count; i++)
            {
                var cell = doc.Cells[i];
                if (cell.CellType != "code") continue;
                cell.Outputs.Clear();
                cell.Node["execution_count"] = null;
                if (failure is not null) continue; // cells after a failure keep no stale outputs
                int number = i + 1 - injectedCells;
                try
                {
                    if (cell.Language is not ("csharp" or "C#" or "c#"))
                        throw new NotebookCellException(number, 0, "", $"the cell's language is '{cell.Language}'; the headless runner runs C# cells only.");
                    var code = CellPreprocessor.Prepare(cell.Source, number);
                    collector.Begin(cell.Outputs, number);
                    var cellClock = Stopwatch.StartNew();
                    state = await Execute(state, code, number);
                    cell.Node["execution_count"] = ++executionCount;
                    if (state.ReturnValue is not null) collector.Result(state.ReturnValue, executionCount);
                    collector.End();
                    SetDuration(cell, cellClock.Elapsed.TotalSeconds);
                    log.WriteLine($"  cell {number} ok ({cellClock.Elapsed.TotalSeconds:0.0}s)");

                    if (cell.Tags.Contains("parameters") && !parametersSeen)
                    {
                        parametersSeen = true;
                        if (overrides.Count > 0)
                        {
                            var injected = InjectedParameters(state, overrides, number);
                            var injectedCell = doc.InsertCodeCell(i + 1, injected, "injected-parameters");
                            collector.Begin(injectedCell.Outputs, number);
                            state = await Execute(state, injected, number);
                            injectedCell.Node["execution_count"] = ++executionCount;
                            collector.End();
                            overrides.Clear();
                            i++;
                            injectedCells++;
                        }
                    }
                }
                catch (NotebookCellException e)
                {
                    collector.End();
                    failure = e;
                    collector.Begin(cell.Outputs, number);
                    collector.Error("NotebookCellError", e.Message, new[] { e.Message });
                }
                catch (Exception e)
                {
                    collector.End();
                    failure = Describe(e, cell.Source, number);
                    collector.Begin(cell.Outputs, number);
                    var inner = Unwrap(e);
                    collector.Error(inner.GetType().Name, inner.Message, new[] { failure.Message }.Concat((inner.StackTrace ?? "").Split('\n').Select(l => l.TrimEnd())));
                }
                finally { collector.End(); }
            }
            if (failure is null && !parametersSeen && overrides.Count > 0)
                failure = new NotebookCellException(0, 0, "",
                    $"parameters {string.Join(", ", overrides.Keys)} were given, but the notebook has no cell tagged 'parameters'.");
        }
        finally
        {
            Console.SetOut(previousOut);
            Display.Sink = previousSink;
            Environment.CurrentDirectory = previousDirectory;
        }
        doc.Metadata["kit"] = new JsonObject
        {
            ["executed_at"] = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["duration_s"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
            ["parameters"] = new JsonObject((parameters ?? new Dictionary<string, string>()).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
            ["succeeded"] = failure is null,
        };
        doc.Save(executedPath);
        GC.Collect(); // the script state held the notebook's tensors
        return new NotebookRunResult(notebookPath, executedPath, failure is null, failure, clock.Elapsed.TotalSeconds, collector.Artifacts, title);
    }

    static async Task<ScriptState<object>> Execute(ScriptState<object>? state, string code, int cell)
    {
        var options = BaseOptions.Value.WithFilePath($"cell-{cell}");
        return state is null
            ? await CSharpScript.RunAsync(code, options, new NotebookGlobals(), typeof(NotebookGlobals))
            : await state.ContinueWithAsync(code, options);
    }

    static void SetDuration(NotebookCell cell, double seconds)
    {
        var metadata = cell.Node["metadata"] as JsonObject ?? (JsonObject)(cell.Node["metadata"] = new JsonObject());
        metadata["kit"] = new JsonObject { ["duration_s"] = Math.Round(seconds, 3) };
    }

    /// <summary>
    /// C# assignments for the overrides, typed after the parameters cell's variables (string, bool,
    /// numbers, enums), so the injected cell reads — and re-runs in VS Code — as ordinary code.
    /// </summary>
    static string InjectedParameters(ScriptState<object> state, IReadOnlyDictionary<string, string> overrides, int cell)
    {
        var lines = new List<string> { "// Parameters injected by `kit notebook run`" };
        var declared = state.Variables.Select(v => v.Name).Distinct().ToList();
        foreach (var (name, text) in overrides)
        {
            var variable = state.GetVariable(name) ?? throw new NotebookCellException(cell, 0, "",
                $"--param {name}={text}: the parameters cell declares no variable '{name}' (it declares: {string.Join(", ", declared)}).");
            lines.Add($"{name} = {Literal(variable.Type, text, name)};");
        }
        return string.Join("\n", lines);
    }

    static string Literal(Type type, string text, string name)
    {
        string Fail(string expected) => throw new ArgumentException($"--param {name}={text}: '{text}' is not {expected} (the variable is {type.Name}).");
        var inv = CultureInfo.InvariantCulture;
        if (type == typeof(string)) return SymbolDisplay.FormatLiteral(text, quote: true);
        if (type == typeof(bool)) return bool.TryParse(text, out var b) ? (b ? "true" : "false") : Fail("true or false");
        if (type == typeof(int)) return int.TryParse(text, NumberStyles.Integer, inv, out var i) ? i.ToString(inv) : Fail("an integer");
        if (type == typeof(long)) return long.TryParse(text, NumberStyles.Integer, inv, out var l) ? l.ToString(inv) + "L" : Fail("an integer");
        if (type == typeof(double)) return double.TryParse(text, NumberStyles.Float, inv, out var d) ? d.ToString("R", inv) + "d" : Fail("a number");
        if (type == typeof(float)) return float.TryParse(text, NumberStyles.Float, inv, out var f) ? f.ToString("R", inv) + "f" : Fail("a number");
        if (type.IsEnum)
            return Enum.TryParse(type, text, ignoreCase: true, out var e) ? $"{type.FullName!.Replace('+', '.')}.{e}" : Fail($"one of {string.Join(", ", Enum.GetNames(type))}");
        return Fail("settable from the command line (parameters may be string, bool, int, long, float, double or an enum)");
    }

    static Exception Unwrap(Exception e) => e is TargetInvocationException { InnerException: { } inner } ? Unwrap(inner) : e is AggregateException { InnerException: { } agg } ? Unwrap(agg) : e;

    /// <summary>The failing cell, line and reason of an exception thrown while running a cell.</summary>
    static NotebookCellException Describe(Exception e, string source, int cell)
    {
        var lines = source.Replace("\r\n", "\n").Split('\n');
        string LineText(int line) => line >= 1 && line <= lines.Length ? lines[line - 1].Trim() : "";
        if (e is CompilationErrorException compile)
        {
            var first = compile.Diagnostics.First(d => d.Severity == DiagnosticSeverity.Error);
            int line = first.Location.GetLineSpan().StartLinePosition.Line + 1;
            var all = string.Join("; ", compile.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(5).Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
            return new NotebookCellException(cell, line, LineText(line), $"`{LineText(line)}` does not compile: {all}", e);
        }
        var inner = Unwrap(e);
        var match = Regex.Match(inner.StackTrace ?? "", $@"cell-{cell}:line (\d+)");
        int at = match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var where = at > 0 ? $"`{LineText(at)}` threw " : "threw ";
        return new NotebookCellException(cell, at, LineText(at), $"{where}{inner.GetType().Name}: {inner.Message}", inner);
    }
}
