// Charts as plotly.js figures the kit writes itself ({"data": [traces], "layout": {...}}, the JSON plotly.js reads and
// Plotly.NET writes), rendered offline: the full plotly.js (carried inside Plotly.NET's package) is written into the
// first chart's HTML of a notebook and every chart waits for it, so nothing is fetched from a CDN.
// Why not build them with Plotly.NET: it needs FSharp.Core 10.1, and the .NET Interactive kernel VS Code and Jupyter
// launch ships FSharp.Core 10.0, so every Plotly.NET call fails there. Writing the figure JSON directly renders the same
// chart in every host — that kernel, the kit's runner, the report and the exported app — from the same call.
// Plotly.NET charts a user builds still display wherever Plotly.NET loads (PlotlyNetCharts.ToChartView).
using System.Reflection;
using System.Text.Json.Nodes;

namespace Kit.Notebook;

/// <summary>A plotly.js chart that displays in notebooks and writes itself to standalone HTML.</summary>
[TypeFormatterSource(typeof(KitFormatterSource), PreferredMimeTypes = new[] { "text/html" })]
public sealed class ChartView : IRichView
{
    static readonly object Gate = new();
    static bool _plotlyEmitted;
    static string? _plotlyJs;
    readonly JsonObject _figure;

    /// <summary>A chart from a plotly.js figure: an object with a "data" array of traces and an optional "layout".</summary>
    public ChartView(JsonObject figure, string title)
    {
        if (figure["data"] is not JsonArray)
            throw new ArgumentException("a plotly.js figure needs a \"data\" array of traces.", nameof(figure));
        _figure = (JsonObject)figure.DeepClone();
        Title = title;
    }

    /// <summary>Title (also the figure's file name in reports).</summary>
    public string Title { get; }

    /// <summary>The figure's traces and layout (a copy: changing it does not change the chart).</summary>
    public JsonObject Figure => (JsonObject)_figure.DeepClone();

    /// <summary>The figure as JSON, as plotly.js's <c>Plotly.newPlot(div, data, layout)</c> reads it.</summary>
    public string FigureJson => _figure.ToJsonString();

    /// <summary>The full plotly.js that ships inside Plotly.NET's package (about 3.5 MB).</summary>
    /// <remarks>Read as a resource of the Plotly.NET assembly without touching any of its types, so it works in a kernel
    /// where Plotly.NET's code cannot run (its FSharp.Core is older than Plotly.NET needs).</remarks>
    public static string PlotlyJs
    {
        get
        {
            if (_plotlyJs is not null) return _plotlyJs;
            var assembly = Assembly.Load(new AssemblyName("Plotly.NET"));
            var name = assembly.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(".min.js", StringComparison.Ordinal))
                ?? throw new InvalidOperationException("the Plotly.NET assembly carries no plotly.js resource.");
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            return _plotlyJs = reader.ReadToEnd();
        }
    }

    /// <summary>Makes the next chart embed plotly.js again (the runner calls this at the start of each notebook).</summary>
    public static void ResetPlotlyEmbedding() { lock (Gate) _plotlyEmitted = false; }

    /// <summary>The chart's div and script; the render call waits until plotly.js has loaded.</summary>
    public string ChartHtml()
    {
        var id = "kit-chart-" + Guid.NewGuid().ToString("N");
        var data = _figure["data"]!.ToJsonString();
        var layout = (_figure["layout"] ?? new JsonObject()).ToJsonString();
        return $"<div id=\"{id}\"></div>\n<script type=\"text/javascript\">\n" +
               $"(function wait() {{ if (window.Plotly) Plotly.newPlot('{id}', {data}, {layout}, {{\"responsive\": true}}); else " +
                   $"setTimeout(wait, 50); }})();\n" +
               "</script>";
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
    public static ChartView Line(string title, IReadOnlyDictionary<string, (IReadOnlyList<double> X, IReadOnlyList<double> Y)> series,
        string xTitle = "step", string yTitle = "value")
    {
        foreach (var (name, (x, y)) in series)
            if (x.Count != y.Count) throw new ArgumentException($"series '{name}' has {x.Count} x values for {y.Count} y values.",
                nameof(series));
        var traces = series.Select(kv => new JsonObject
        {
            ["type"] = "scatter", ["mode"] = "lines", ["name"] = kv.Key, ["x"] = Numbers(kv.Value.X), ["y"] = Numbers(kv.Value.Y),
        });
        return Figure(title, traces, xTitle, yTitle);
    }

    /// <summary>One line from y values at x = 0, 1, 2, ...</summary>
    public static ChartView Line(string title, IReadOnlyList<double> y, string name = "value", string xTitle = "step",
        string yTitle = "value") =>
        Line(title, new Dictionary<string, (IReadOnlyList<double>, IReadOnlyList<double>)> { [name] = (Enumerable.Range(0,
            y.Count).Select(i => (double)i).ToList(), y) }, xTitle, yTitle);

    /// <summary>Grouped bars: for each series, one bar per category.</summary>
    public static ChartView Bar(string title, IReadOnlyList<string> categories, IReadOnlyDictionary<string, IReadOnlyList<double>> series,
        string yTitle = "value")
    {
        foreach (var (name, values) in series)
            if (values.Count != categories.Count)
                throw new ArgumentException($"series '{name}' has {values.Count} values for {categories.Count} categories.",
                    nameof(series));
        var traces = series.Select(kv => new JsonObject
        {
            ["type"] = "bar", ["name"] = kv.Key, ["x"] = Strings(categories), ["y"] = Numbers(kv.Value),
        });
        return Figure(title, traces, "", yTitle, barmode: "group");
    }

    /// <summary>A heatmap of <paramref name="z"/>[row][column] with labelled axes.</summary>
    public static ChartView Heatmap(string title, IReadOnlyList<IReadOnlyList<double>> z, IReadOnlyList<string> columns,
        IReadOnlyList<string> rows)
    {
        if (z.Count != rows.Count || z.Any(r => r.Count != columns.Count))
            throw new ArgumentException($"z must be {rows.Count} rows × {columns.Count} columns.", nameof(z));
        var trace = new JsonObject
        {
            ["type"] = "heatmap", ["z"] = new JsonArray(z.Select(r => (JsonNode?)Numbers(r)).ToArray()),
            ["x"] = Strings(columns), ["y"] = Strings(rows),
        };
        return Figure(title, new[] { trace }, "", "");
    }

    static ChartView Figure(string title, IEnumerable<JsonObject> traces, string xTitle, string yTitle, string? barmode = null)
    {
        var layout = new JsonObject
        {
            ["title"] = new JsonObject { ["text"] = title },
            ["xaxis"] = new JsonObject { ["title"] = new JsonObject { ["text"] = xTitle } },
            ["yaxis"] = new JsonObject { ["title"] = new JsonObject { ["text"] = yTitle } },
            ["width"] = 720, ["height"] = 420,
        };
        if (barmode is not null) layout["barmode"] = barmode;
        return new ChartView(new JsonObject { ["data"] = new JsonArray(traces.Select(t => (JsonNode?)t).ToArray()), ["layout"] = layout },
            title);
    }

    // JSON has no NaN or infinity: plotly.js draws a missing point (a gap) for null.
    static JsonArray Numbers(IEnumerable<double> values) =>
        new(values.Select(v => double.IsFinite(v) ? JsonValue.Create(v) : null).Select(v => (JsonNode?)v).ToArray());

    static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}
