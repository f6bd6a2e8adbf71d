// Charts through Plotly.NET, rendered offline: the full plotly.js (embedded in Plotly.NET's assembly) is
// written into the first chart's HTML of a notebook and every chart waits for it, so nothing is fetched
// from a CDN.
using System.Text.RegularExpressions;
using Plotly.NET;
using Plotly.NET.CSharp;
using PlotlyChart = Plotly.NET.CSharp.Chart;

namespace Kit.Notebook;

/// <summary>A Plotly chart that displays in notebooks and writes itself to standalone HTML.</summary>
[TypeFormatterSource(typeof(KitFormatterSource), PreferredMimeTypes = new[] { "text/html" })]
public sealed class ChartView : IRichView
{
    static readonly object Gate = new();
    static bool _plotlyEmitted;
    static string? _plotlyJs;

    public ChartView(GenericChart chart, string title)
    {
        Chart = chart;
        Title = title;
    }

    /// <summary>The underlying Plotly.NET chart (style it further with Plotly.NET's API).</summary>
    public GenericChart Chart { get; }
    /// <summary>Title (also the figure's file name in reports).</summary>
    public string Title { get; }

    /// <summary>The full plotly.js shipped inside Plotly.NET (about 3.5 MB).</summary>
    public static string PlotlyJs
    {
        get
        {
            if (_plotlyJs is not null) return _plotlyJs;
            var assembly = typeof(GenericChart).Assembly;
            var name = assembly.GetManifestResourceNames().First(n => n.EndsWith(".min.js", StringComparison.Ordinal));
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            return _plotlyJs = reader.ReadToEnd();
        }
    }

    /// <summary>Makes the next chart embed plotly.js again (the runner calls this at the start of each notebook).</summary>
    public static void ResetPlotlyEmbedding() { lock (Gate) _plotlyEmitted = false; }

    /// <summary>The chart's div and script; the render call waits until plotly.js has loaded.</summary>
    public string ChartHtml()
    {
        var html = GenericChart.toChartHTML(Chart);
        return Regex.Replace(html, @"(renderPlotly_[0-9a-f]+)\(\);\s*</script>",
            m => $"(function wait() {{ if (window.Plotly) {m.Groups[1].Value}(); else setTimeout(wait, 50); }})();\n</script>");
    }

    /// <summary>HTML for a notebook output: the first chart of a notebook carries plotly.js in full.</summary>
    public string ToHtml()
    {
        bool embed;
        lock (Gate) { embed = !_plotlyEmitted; _plotlyEmitted = true; }
        return (embed ? PlotlyScriptTag() : "") + ChartHtml();
    }

    /// <summary>A script tag holding plotly.js inline.</summary>
    public static string PlotlyScriptTag() =>
        $"<script type=\"text/javascript\">{PlotlyJs.Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase)}</script>";

    /// <summary>A standalone page; <paramref name="plotlySrc"/> names a local plotly.js file, or null to inline it.</summary>
    public string ToStandaloneHtml(string? plotlySrc = null) =>
        $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{ImageGrid.Escape(Title)}</title>" +
        (plotlySrc is null ? PlotlyScriptTag() : $"<script src=\"{plotlySrc}\"></script>") +
        $"</head><body>{ChartHtml()}</body></html>";

    public byte[]? ToPng() => null;
    public string ToPlainText() => $"Chart: {Title}";
    public override string ToString() => ToPlainText();
}

/// <summary>Line, bar and heatmap helpers for training curves and ablation results.</summary>
public static class Charts
{
    /// <summary>One line per series over a shared x axis (e.g. loss per step for several runs).</summary>
    public static ChartView Line(string title, IReadOnlyDictionary<string, (IReadOnlyList<double> X, IReadOnlyList<double> Y)> series, string xTitle = "step", string yTitle = "value")
    {
        var traces = series.Select(kv => PlotlyChart.Line<double, double, string>(x: kv.Value.X, y: kv.Value.Y, Name: kv.Key, ShowMarkers: false)).ToArray();
        return new ChartView(Style(PlotlyChart.Combine(traces), title, xTitle, yTitle), title);
    }

    /// <summary>One line from y values at x = 0, 1, 2, ...</summary>
    public static ChartView Line(string title, IReadOnlyList<double> y, string name = "value", string xTitle = "step", string yTitle = "value") =>
        Line(title, new Dictionary<string, (IReadOnlyList<double>, IReadOnlyList<double>)> { [name] = (Enumerable.Range(0, y.Count).Select(i => (double)i).ToList(), y) }, xTitle, yTitle);

    /// <summary>Grouped bars: for each series, one bar per category.</summary>
    public static ChartView Bar(string title, IReadOnlyList<string> categories, IReadOnlyDictionary<string, IReadOnlyList<double>> series, string yTitle = "value")
    {
        foreach (var (name, values) in series)
            if (values.Count != categories.Count)
                throw new ArgumentException($"series '{name}' has {values.Count} values for {categories.Count} categories.", nameof(series));
        var traces = series.Select(kv => PlotlyChart.Column<double, string, string>(values: kv.Value, Keys: new Optional<IEnumerable<string>>(categories, true), Name: kv.Key)).ToArray();
        return new ChartView(Style(PlotlyChart.Combine(traces), title, "", yTitle), title);
    }

    /// <summary>A heatmap of <paramref name="z"/>[row][column] with labelled axes.</summary>
    public static ChartView Heatmap(string title, IReadOnlyList<IReadOnlyList<double>> z, IReadOnlyList<string> columns, IReadOnlyList<string> rows)
    {
        if (z.Count != rows.Count || z.Any(r => r.Count != columns.Count))
            throw new ArgumentException($"z must be {rows.Count} rows × {columns.Count} columns.", nameof(z));
        var chart = PlotlyChart.Heatmap<double, string, string, string>(zData: z.Select(r => (IEnumerable<double>)r), X: new Optional<IEnumerable<string>>(columns, true), Y: new Optional<IEnumerable<string>>(rows, true));
        return new ChartView(Style(chart, title, "", ""), title);
    }

    static GenericChart Style(GenericChart chart, string title, string xTitle, string yTitle) =>
        Plotly.NET.Chart.withTitle(title, null).Invoke(chart)
            .WithXAxisStyle<double, double, string>(TitleText: xTitle)
            .WithYAxisStyle<double, double, string>(TitleText: yTitle)
            .WithSize(720, 420);
}
