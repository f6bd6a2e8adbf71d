// `kit reproduce`: the executed notebooks plus report.md — every table (Markdown in the report, CSV
// beside it) and every figure (PNG image grids, HTML charts sharing one local plotly.js).
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Kit.Notebook;

namespace Kit.Cli.Notebooks;

/// <summary>Writes a run folder's report from notebook results.</summary>
public static class ReportWriter
{
    /// <summary>Writes report.md, tables/ and figures/ under <paramref name="runDirectory"/>; returns the report's path.</summary>
    public static string Write(string runDirectory, string scale, IReadOnlyList<NotebookRunResult> results, string environment)
    {
        var tables = Path.Combine(runDirectory, "tables");
        var figures = Path.Combine(runDirectory, "figures");
        var md = new StringBuilder();
        md.Append($"# Kit — reproduction report\n\nScale **{scale}**, written {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC.\n\n");
        md.Append("```\n").Append(environment).Append("\n```\n\n");
        md.Append("| notebook | status | time |\n|---|---|---|\n");
        foreach (var r in results)
            md.Append($"| [{Path.GetFileName(r.Notebook)}]({Path.GetFileName(r.ExecutedPath)}) | {(r.Succeeded ? "ok" : "**failed**")} | {r.Seconds:0}s |\n");
        bool plotlyWritten = false;
        foreach (var r in results)
        {
            var stem = Path.GetFileNameWithoutExtension(r.Notebook);
            md.Append($"\n## {stem}{(r.Title is null ? "" : " — " + r.Title)}\n\n");
            if (!r.Succeeded) md.Append($"**Failed:** {r.Failure?.Message}\n\n");
            int k = 0;
            foreach (var artifact in r.Artifacts)
            {
                k++;
                var name = $"{stem}-{k:D2}-{Slug(artifact.View switch { ResultTable t => t.Title, ChartView c => c.Title, ImageGrid g => g.Title ?? "images", _ => "output" })}";
                switch (artifact.View)
                {
                    case ResultTable table:
                        Directory.CreateDirectory(tables);
                        table.SaveCsv(Path.Combine(tables, name + ".csv"));
                        md.Append(table.ToMarkdown()).Append($"\n[CSV](tables/{name}.csv)\n\n");
                        break;
                    case ImageGrid grid:
                        Directory.CreateDirectory(figures);
                        Kit.Core.AtomicFile.WriteAllBytes(Path.Combine(figures, name + ".png"), grid.ToPng()!);
                        md.Append($"![{grid.Title ?? "images"}](figures/{name}.png)\n\n");
                        break;
                    case ChartView chart:
                        Directory.CreateDirectory(figures);
                        if (!plotlyWritten) { Kit.Core.AtomicFile.WriteAllText(Path.Combine(figures, "plotly.min.js"), ChartView.PlotlyJs); plotlyWritten = true; }
                        Kit.Core.AtomicFile.WriteAllText(Path.Combine(figures, name + ".html"), chart.ToStandaloneHtml("plotly.min.js"));
                        md.Append($"[Chart: {chart.Title}](figures/{name}.html)\n\n");
                        break;
                }
            }
            if (k == 0) md.Append("_No tables or figures._\n");
        }
        var path = Path.Combine(runDirectory, "report.md");
        Kit.Core.AtomicFile.WriteAllText(path, md.ToString());
        return path;
    }

    static string Slug(string title)
    {
        var slug = Regex.Replace(title.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');
        return slug.Length == 0 ? "output" : slug.Length > 48 ? slug[..48].TrimEnd('-') : slug;
    }
}
