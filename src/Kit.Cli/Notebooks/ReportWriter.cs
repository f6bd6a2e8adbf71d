// `kit reproduce`: the executed notebooks plus report.md — first what the run used (scale, which optional data, machine),
// then a summary of every claim of every notebook (holds, does not hold, not expected at this scale), then per notebook
// every table (Markdown in the report, CSV beside it), its claims (claims/<notebook>.csv) and every figure (PNG image
// grids, HTML charts sharing one local plotly.js). Each notebook runs in a process of its own, which writes its part:
// its files and parts/<notebook>.json (status, claims, its section of the report). The parent assembles report.md from
// the parts after each notebook, so a run that is interrupted, or whose notebook aborted the process, still has one.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Kit.Evaluation;
using Kit.Notebook;

namespace Kit.Cli.Notebooks;

/// <summary>One claim as the report lists it.</summary>
public sealed record ReportClaim(string Finding, string PaperFigure, string ThisRun, Verdict Verdict, string VerdictText);

/// <summary>What one notebook's process left for the report.</summary>
/// <param name="Notebook">The source notebook's file name.</param>
/// <param name="ExecutedFile">The executed copy's file name in the run folder (".failed.ipynb" for a failed run).</param>
/// <param name="Section">The notebook's section of report.md (tables, claims, figures).</param>
public sealed record ReportPart(string Notebook, string ExecutedFile, string? Title, bool Succeeded, string? Failure, double Seconds,
    IReadOnlyList<ReportClaim> Claims, string Section);

/// <summary>Writes a run folder's report: each notebook's part, and report.md from the parts.</summary>
public sealed class ReportWriter
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    readonly string _runDirectory, _scale, _environment, _optionalData;

    /// <param name="environment">The machine, as <c>KitRuntime.Describe()</c> tells it.</param>
    /// <param name="optionalData">Which optional data the run used (see <see cref="OptionalData"/>).</param>
    public ReportWriter(string runDirectory, string scale, string environment, string optionalData)
    {
        _runDirectory = runDirectory; _scale = scale; _environment = environment; _optionalData = optionalData;
        Path = System.IO.Path.Combine(runDirectory, "report.md");
    }

    /// <summary>Where the report is written.</summary>
    public string Path { get; }

    /// <summary>The file a notebook's part is kept in.</summary>
    public static string PartPath(string runDirectory, string notebook) =>
        System.IO.Path.Combine(runDirectory, "parts", System.IO.Path.GetFileNameWithoutExtension(notebook) + ".json");

    /// <summary>Which optional data a run in this environment uses: each of WordNet and Fashion-MNIST used, not installed, or
    /// hidden.</summary>
    public static string OptionalData() =>
        "WordNet " + (Kit.Data.WordNet.Installed is string w ? $"used ({w})" : Kit.Data.WordNet.Absence) +
        "; Fashion-MNIST " + (Kit.Data.FashionMnist.Locate() is string f ? $"used ({f})" : Kit.Data.FashionMnist.Absence);

    /// <summary>
    /// Writes <paramref name="result"/>'s tables, claims and figures into the run folder and its part (parts/&lt;name&gt;.json);
    /// returns the part.
    /// </summary>
    public static ReportPart WritePart(string runDirectory, NotebookRunResult result)
    {
        var stem = System.IO.Path.GetFileNameWithoutExtension(result.Notebook);
        var md = new StringBuilder();
        md.Append($"\n## {stem}{(result.Title is null ? "" : " — " + result.Title)}\n\n");
        if (!result.Succeeded) md.Append($"**Failed:** {result.Failure?.Message}\n\n");
        var written = new HashSet<string>(StringComparer.Ordinal);
        bool plotly = false;
        int k = 0;
        foreach (var artifact in result.Artifacts)
        {
            k++;
            var name = $"{stem}-{k:D2}-{Display.FileStem(artifact.View.Title ?? "output", 48)}";
            bool fresh = written.Add(name);
            switch (artifact.View)
            {
                case ClaimsTable claims:
                    if (fresh) claims.Table.SaveCsv(System.IO.Path.Combine(runDirectory, "claims", stem + ".csv"));
                    md.Append(claims.Table.ToMarkdown()).Append($"\n[CSV](claims/{stem}.csv)\n\n");
                    break;
                case ResultTable table:
                    if (fresh) table.SaveCsv(System.IO.Path.Combine(runDirectory, "tables", name + ".csv"));
                    md.Append(table.ToMarkdown()).Append($"\n[CSV](tables/{name}.csv)\n\n");
                    break;
                case ChartView chart:
                    var figures = System.IO.Path.Combine(runDirectory, "figures");
                    if (!plotly) { Kit.Core.AtomicFile.WriteAllText(System.IO.Path.Combine(figures, "plotly.min.js"),
                        ChartView.PlotlyJs); plotly = true; }
                    if (fresh) Kit.Core.AtomicFile.WriteAllText(System.IO.Path.Combine(figures, name + ".html"),
                        chart.ToStandaloneHtml("plotly.min.js"));
                    md.Append($"[Chart: {chart.Title}](figures/{name}.html)\n\n");
                    break;
                case var view when view.ToPng() is byte[] png:
                    if (fresh) Kit.Core.AtomicFile.WriteAllBytes(System.IO.Path.Combine(runDirectory, "figures", name + ".png"), png);
                    md.Append($"![{view.Title ?? "images"}](figures/{name}.png)\n\n");
                    break;
            }
        }
        if (k == 0) md.Append("_No tables or figures._\n");
        var claimsRows = result.Artifacts.Select(a => a.View).OfType<ClaimsTable>()
            .SelectMany(t => t.Claims.Select(c => new ReportClaim(c.Finding, c.PaperFigure, c.ThisRun, c.Verdict, c.VerdictText))).ToList();
        var part = new ReportPart(System.IO.Path.GetFileName(result.Notebook), System.IO.Path.GetFileName(result.ExecutedPath),
            result.Title, result.Succeeded,
            result.Failure?.Message, result.Seconds, claimsRows, md.ToString());
        Kit.Core.AtomicFile.WriteAllText(PartPath(runDirectory, result.Notebook), JsonSerializer.Serialize(part, Json));
        return part;
    }

    /// <summary>The part a notebook's process wrote, or null when it wrote none (it aborted before the end).</summary>
    public static ReportPart? ReadPart(string runDirectory, string notebook)
    {
        var path = PartPath(runDirectory, notebook);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<ReportPart>(File.ReadAllText(path), Json); }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// Writes report.md from <paramref name="parts"/> (one per finished notebook, in order); <paramref name="interruptedDuring"/>
    /// names the notebook that was running when the run was stopped (null for a run that is finished or still going).
    /// Returns where it was written: the run folder, or — when that write fails — a temporary folder, which the caller reports.
    /// </summary>
    public string Write(IReadOnlyList<ReportPart> parts, string? interruptedDuring)
    {
        var md = new StringBuilder();
        md.Append($"# Kit — reproduction report\n\nScale **{_scale}**, written " +
            $"{DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC.\n\n");
        if (interruptedDuring is not null)
            md.Append($"**Interrupted** while {interruptedDuring} was running: the {parts.Count} notebook(s) below finished; the rest " +
                $"did not run.\n\n");
        md.Append($"Optional data: {_optionalData}. Results that rest on it (notebook 01's class-conditional part, the backbone of 04 " +
            "and 06, notebook 05's codebook size, 06's lexicon and zero-shot part, the language model's text) differ without it.\n\n");
        md.Append("```\n").Append(_environment).Append("\n```\n\n");
        md.Append("| notebook | status | time |\n|---|---|---|\n");
        foreach (var p in parts)
            md.Append($"| [{p.Notebook}]({p.ExecutedFile}) | {(p.Succeeded ? "ok" : "**failed**")} | {p.Seconds:0}s |\n");
        if (interruptedDuring is not null) md.Append($"| {interruptedDuring} | **interrupted** | |\n");
        Summary(md, parts, _optionalData);
        foreach (var p in parts) md.Append(p.Section);
        try
        {
            Kit.Core.AtomicFile.WriteAllText(Path, md.ToString());
            return Path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var fallback = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kit-unsaved-runs",
                System.IO.Path.GetFileName(_runDirectory.TrimEnd('/')), "report.md");
            Kit.Core.AtomicFile.WriteAllText(fallback, md.ToString());
            Console.Error.WriteLine($"kit: the report could not be written to {Path} ({e.Message}); it is at {fallback}.");
            return fallback;
        }
    }

    // Every claim of every notebook in one table; "not expected at this scale" is told apart from "does not hold", and the
    // heading says whether the optional data was used (claims that rest on WordNet or Fashion-MNIST can change without it).
    static void Summary(StringBuilder md, IReadOnlyList<ReportPart> parts, string optionalData)
    {
        var claims = parts.SelectMany(p => p.Claims.Select(c => (Notebook: System.IO.Path.GetFileNameWithoutExtension(p.Notebook),
            Claim: c))).ToList();
        if (claims.Count == 0) return;
        int Count(Verdict v) => claims.Count(c => c.Claim.Verdict == v);
        md.Append($"\n## Claims: {Count(Verdict.Holds)} hold, {Count(Verdict.DoesNotHold)} do not hold, " +
            $"{Count(Verdict.NotExpectedAtThisScale)} not expected at this scale\n\n");
        md.Append($"Optional data in this run: {optionalData}.\n\n");
        md.Append("| notebook | claim | paper | this run | verdict |\n|---|---|---|---|---|\n");
        static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
        foreach (var (notebook, claim) in claims)
            md.Append($"| {notebook} | {Cell(claim.Finding)} | {Cell(claim.PaperFigure)} | {Cell(claim.ThisRun)} | " +
                $"{(claim.Verdict == Verdict.DoesNotHold ? "**does not hold**" : claim.VerdictText)} |\n");
    }
}
