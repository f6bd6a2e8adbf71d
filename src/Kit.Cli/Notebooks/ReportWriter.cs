// `kit reproduce`: the executed notebooks plus report.md — first a summary of every claim of every notebook (holds,
// does not hold, not expected at this scale), then per notebook every table (Markdown in the report, CSV beside it),
// its claims (claims/<notebook>.csv) and every figure (PNG image grids, HTML charts sharing one local plotly.js). The
// report is rewritten after each notebook, so a run that is interrupted still has one, saying where it stopped.
using System.Globalization;
using System.Text;
using Kit.Evaluation;
using Kit.Notebook;

namespace Kit.Cli.Notebooks;

/// <summary>Writes a run folder's report from notebook results.</summary>
public sealed class ReportWriter
{
    readonly string _runDirectory, _scale, _environment;
    readonly HashSet<string> _written = new(StringComparer.Ordinal);
    bool _plotlyWritten;

    public ReportWriter(string runDirectory, string scale, string environment)
    {
        _runDirectory = runDirectory; _scale = scale; _environment = environment;
        Path = System.IO.Path.Combine(runDirectory, "report.md");
    }

    /// <summary>Where the report is written.</summary>
    public string Path { get; }

    /// <summary>
    /// Writes report.md, tables/ and figures/ for <paramref name="results"/>; <paramref name="interruptedDuring"/> names
    /// the notebook that was running when the run was stopped (null for a run that is finished or still going).
    /// </summary>
    public void Write(IReadOnlyList<NotebookRunResult> results, string? interruptedDuring)
    {
        var md = new StringBuilder();
        md.Append($"# Kit — reproduction report\n\nScale **{_scale}**, written {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC.\n\n");
        if (interruptedDuring is not null)
            md.Append($"**Interrupted** while {interruptedDuring} was running: the {results.Count} notebook(s) below finished; the rest did not run.\n\n");
        md.Append("```\n").Append(_environment).Append("\n```\n\n");
        md.Append("| notebook | status | time |\n|---|---|---|\n");
        foreach (var r in results)
            md.Append($"| [{System.IO.Path.GetFileName(r.Notebook)}]({System.IO.Path.GetFileName(r.ExecutedPath)}) | {(r.Succeeded ? "ok" : "**failed**")} | {r.Seconds:0}s |\n");
        if (interruptedDuring is not null) md.Append($"| {interruptedDuring} | **interrupted** | |\n");
        Summary(md, results);
        foreach (var r in results) Notebook(md, r);
        Kit.Core.AtomicFile.WriteAllText(Path, md.ToString());
    }

    // Every claim of every notebook in one table; "not expected at this scale" is told apart from "does not hold".
    static void Summary(StringBuilder md, IReadOnlyList<NotebookRunResult> results)
    {
        var claims = results.SelectMany(r => r.Artifacts.Select(a => a.View).OfType<ClaimsTable>()
            .SelectMany(t => t.Claims.Select(c => (Notebook: System.IO.Path.GetFileNameWithoutExtension(r.Notebook), Claim: c)))).ToList();
        if (claims.Count == 0) return;
        int Count(Verdict v) => claims.Count(c => c.Claim.Verdict == v);
        md.Append($"\n## Claims: {Count(Verdict.Holds)} hold, {Count(Verdict.DoesNotHold)} do not hold, {Count(Verdict.NotExpectedAtThisScale)} not expected at this scale\n\n");
        md.Append("| notebook | claim | paper | this run | verdict |\n|---|---|---|---|---|\n");
        static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
        foreach (var (notebook, claim) in claims)
            md.Append($"| {notebook} | {Cell(claim.Finding)} | {Cell(claim.PaperFigure)} | {Cell(claim.ThisRun)} | {(claim.Verdict == Verdict.DoesNotHold ? "**does not hold**" : claim.VerdictText)} |\n");
    }

    void Notebook(StringBuilder md, NotebookRunResult r)
    {
        var stem = System.IO.Path.GetFileNameWithoutExtension(r.Notebook);
        md.Append($"\n## {stem}{(r.Title is null ? "" : " — " + r.Title)}\n\n");
        if (!r.Succeeded) md.Append($"**Failed:** {r.Failure?.Message}\n\n");
        int k = 0;
        foreach (var artifact in r.Artifacts)
        {
            k++;
            var name = $"{stem}-{k:D2}-{Display.FileStem(artifact.View.Title ?? "output", 48)}";
            bool fresh = _written.Add(name);
            switch (artifact.View)
            {
                case ClaimsTable claims:
                    if (fresh) claims.Table.SaveCsv(System.IO.Path.Combine(_runDirectory, "claims", stem + ".csv"));
                    md.Append(claims.Table.ToMarkdown()).Append($"\n[CSV](claims/{stem}.csv)\n\n");
                    break;
                case ResultTable table:
                    if (fresh) table.SaveCsv(System.IO.Path.Combine(_runDirectory, "tables", name + ".csv"));
                    md.Append(table.ToMarkdown()).Append($"\n[CSV](tables/{name}.csv)\n\n");
                    break;
                case ChartView chart:
                    var figures = System.IO.Path.Combine(_runDirectory, "figures");
                    if (!_plotlyWritten) { Kit.Core.AtomicFile.WriteAllText(System.IO.Path.Combine(figures, "plotly.min.js"), ChartView.PlotlyJs); _plotlyWritten = true; }
                    if (fresh) Kit.Core.AtomicFile.WriteAllText(System.IO.Path.Combine(figures, name + ".html"), chart.ToStandaloneHtml("plotly.min.js"));
                    md.Append($"[Chart: {chart.Title}](figures/{name}.html)\n\n");
                    break;
                case var view when view.ToPng() is byte[] png:
                    if (fresh) Kit.Core.AtomicFile.WriteAllBytes(System.IO.Path.Combine(_runDirectory, "figures", name + ".png"), png);
                    md.Append($"![{view.Title ?? "images"}](figures/{name}.png)\n\n");
                    break;
            }
        }
        if (k == 0) md.Append("_No tables or figures._\n");
    }
}
