// Plotly.NET charts a user builds, shown the kit's way (offline plotly.js, a figure in the report). Kept apart from
// ChartView so that no kit type names a Plotly.NET type: in a kernel whose FSharp.Core is older than Plotly.NET needs,
// only code that really calls Plotly.NET fails, never the kit's own charts.
using System.Text.Json.Nodes;
using Plotly.NET;

namespace Kit.Notebook;

/// <summary>Conversions from Plotly.NET charts to the kit's chart view.</summary>
public static class PlotlyNetCharts
{
    /// <summary>The same figure (Plotly.NET's traces and layout, as its own JSON writer gives them) as a kit chart.</summary>
    public static ChartView ToChartView(this GenericChart chart, string title = "chart") =>
        new((JsonObject)JsonNode.Parse(GenericChart.toFigureJson(chart))!, title);
}
