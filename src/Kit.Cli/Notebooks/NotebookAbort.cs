// When a notebook's process dies inside a cell — a native abort (TorchSharp's matmul has no error handling: a misfit
// ends the process with "terminate called after throwing an instance of 'c10::Error'"), a crash, a kill — no exception
// reaches the runner. What is left is the copy the runner wrote before that cell (name.running.ipynb, its metadata
// naming the cell that started) and the last lines the process printed. `kit reproduce` turns them into a failed run:
// the copy becomes name.failed.ipynb with an error output on the cell that was running, and the report names both.
using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive.Documents;

namespace Kit.Cli.Notebooks;

/// <summary>Records a notebook run whose process ended without finishing.</summary>
public static class NotebookAbort
{
    /// <summary>
    /// The failed part of <paramref name="notebook"/>'s run in <paramref name="runDirectory"/>, whose process exited with
    /// <paramref name="exitCode"/> after printing <paramref name="lastLines"/>; rewrites its running copy as the failed copy.
    /// </summary>
    public static ReportPart Record(string notebook, string runDirectory, int exitCode, IReadOnlyList<string> lastLines, double seconds)
    {
        var paths = NotebookRunner.OutputPaths(notebook, runDirectory);
        var how = exitCode > 128
            ? $"exit code {exitCode} (signal {exitCode - 128}{(exitCode - 128 == 6 ? ", SIGABRT: a native abort" : "")})"
                : $"exit code {exitCode}";
        var said = Said(lastLines);
        int? cell = null;
        string executedFile = Path.GetFileName(paths.Failed);
        if (File.Exists(paths.Running))
        {
            var doc = NotebookFile.Load(paths.Running);
            cell = StartedCell(doc);
            var message = $"the notebook's process ended ({how}) while this cell was running{(said.Length > 0 ? ": " + said : "")}";
            if (cell is int n && CellAt(doc, n) is { } element)
                element.Outputs.Add(new ErrorElement(message, "ProcessEnded", lastLines.TakeLast(12).ToArray()));
            doc.Metadata["kit"] = new Dictionary<string, object> { ["succeeded"] = false, ["ended"] = how, ["started_cell"] = cell ?? 0 };
            NotebookFile.Save(doc, paths.Failed);
            File.Delete(paths.Running);
        }
        else executedFile = Path.GetFileName(notebook);
        var failure = cell is int c
            ? $"cell {c}: the process ended ({how}) while the cell was running{(said.Length > 0 ? ": " + said : "")}; the copy up to " +
                $"the cell before is {paths.Failed}"
            : $"the process ended ({how}) before any cell ran{(said.Length > 0 ? ": " + said : "")}";
        var stem = Path.GetFileNameWithoutExtension(notebook);
        var part = new ReportPart(Path.GetFileName(notebook), executedFile, null, false, failure, seconds, Array.Empty<ReportClaim>(),
            $"\n## {stem}\n\n**Failed:** {failure}\n\n_No tables or figures._\n");
        Kit.Core.AtomicFile.WriteAllText(ReportWriter.PartPath(runDirectory, notebook), System.Text.Json.JsonSerializer.Serialize(part));
        return part;
    }

    /// <summary>The cell the running copy says had started (numbered as the notebook is written), or null.</summary>
    public static int? StartedCell(InteractiveDocument doc)
    {
        if (!doc.Metadata.TryGetValue("kit", out var kit)) return null;
        // As written by the runner (a dictionary) or as read back from the file (JSON).
        object? value = kit switch
        {
            IDictionary<string, object> d => d.TryGetValue("started_cell", out var n) ? n : null,
            System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Object } e => e.TryGetProperty("started_cell",
                out var n) ? n : null,
            _ => null,
        };
        return int.TryParse(value?.ToString(), out int cell) ? cell : null;
    }

    // Cell n of the notebook as written: injected parameter cells do not count.
    static InteractiveDocumentElement? CellAt(InteractiveDocument doc, int n) =>
        doc.Elements.Where(e => !NotebookFile.Tags(e).Contains(NotebookFile.InjectedTag)).ElementAtOrDefault(n - 1);

    // The lines that say why: a C++ exception's "terminate called …" and "what(): …", else the last line printed.
    static string Said(IReadOnlyList<string> lines)
    {
        var native = lines.Where(l => Regex.IsMatch(l,
            @"terminate called|what\(\)|c10::Error|Segmentation fault|Aborted|Unhandled exception")).Select(l => l.Trim()).ToList();
        var chosen = native.Count > 0 ? native : lines.Where(l => l.Trim().Length > 0).TakeLast(1).Select(l => l.Trim()).ToList();
        return string.Join(" ", chosen.Take(3));
    }
}
