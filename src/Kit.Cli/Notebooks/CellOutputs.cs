// One cell's outputs, built from the events the .NET Interactive kernel publishes while the cell runs: console text
// becomes a "stream" output, each display a "display_data" output (replaced in place when the display is updated, as
// a progress bar is), the trailing expression an "execute_result". The MIME bundles are the kernel's own formatting
// (the kit's views name their formatters with TypeFormatterSourceAttribute); for a picture the runner asks the same
// formatter for image/png, which the report and `kit notebook compare` read, where the kernel would show HTML with the
// PNG inside.
using Kit.Notebook;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;

namespace Kit.Cli.Notebooks;

/// <summary>Something a notebook displayed that the report keeps (tables, charts, image grids).</summary>
public sealed record DisplayedArtifact(int Cell, IRichView View);

/// <summary>Turns kernel events into a cell's nbformat outputs and the report's artifacts.</summary>
sealed class CellOutputs
{
    readonly List<InteractiveDocumentOutputElement> _outputs;
    readonly List<DisplayedArtifact> _artifacts;
    readonly int _cell;
    readonly Dictionary<string, DisplayElement> _displays = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> _artifactOf = new(StringComparer.Ordinal);

    public CellOutputs(List<InteractiveDocumentOutputElement> outputs, List<DisplayedArtifact> artifacts, int cell)
    {
        _outputs = outputs; _artifacts = artifacts; _cell = cell;
    }

    /// <summary>Adds what <paramref name="e"/> shows; events that show nothing are ignored.</summary>
    public void Add(KernelEvent e, int executionCount)
    {
        switch (e)
        {
            case StandardOutputValueProduced o: Stream("stdout", o); break;
            case StandardErrorValueProduced o: Stream("stderr", o); break;
            case DisplayedValueUpdated u when u.ValueId is { } id && _displays.TryGetValue(id, out var shown):
                shown.Data.Clear();
                foreach (var (mime, text) in Bundle(u)) shown.Data[mime] = text;
                Remember(u.Value, id);
                break;
            case ReturnValueProduced r:
                var result = new ReturnValueElement { ExecutionOrder = executionCount };
                foreach (var (mime, text) in Bundle(r)) result.Data[mime] = text;
                _outputs.Add(result);
                Remember(r.Value, null);
                break;
            case DisplayEvent d and not DisplayedValueUpdated:
                var display = new DisplayElement(Bundle(d).ToDictionary(kv => kv.Key, kv => (object)kv.Value));
                _outputs.Add(display);
                if (d.ValueId is { } valueId) _displays[valueId] = display;
                Remember(d.Value, d.ValueId);
                break;
        }
    }

    /// <summary>Adds an error output.</summary>
    public void Error(string name, string message, IEnumerable<string> traceback) =>
        _outputs.Add(new ErrorElement(message, name, traceback.ToArray()));

    // Consecutive text on one stream is one output, as Jupyter writes it.
    void Stream(string name, DisplayEvent e)
    {
        var text = e.FormattedValues.FirstOrDefault()?.Value ?? "";
        if (_outputs.Count > 0 && _outputs[^1] is TextElement last && last.Name == name)
            _outputs[^1] = new TextElement(last.Text + text, name);
        else _outputs.Add(new TextElement(text, name));
    }

    static Dictionary<string, string> Bundle(DisplayEvent e)
    {
        var bundle = e.FormattedValues.Where(f => !f.SuppressDisplay).GroupBy(f => f.MimeType).ToDictionary(g => g.Key,
            g => g.First().Value);
        if (e.Value is IRichView view && view.ToPng() is not null)
            bundle = FormattedValue.CreateManyFromObject(view, "image/png", "text/plain").ToDictionary(f => f.MimeType, f => f.Value);
        if (!bundle.ContainsKey("text/plain") && e.Value is not null) bundle["text/plain"] = Formatter.ToDisplayString(e.Value,
            "text/plain");
        return bundle;
    }

    // The report keeps the latest state of each displayed table, chart or picture (progress bars are left out).
    void Remember(object? value, string? valueId)
    {
        if (AsView(value) is not { } view || view is ProgressView) return;
        if (valueId is not null && _artifactOf.TryGetValue(valueId, out var index)) { _artifacts[index] = new DisplayedArtifact(_cell,
            view); return; }
        if (valueId is not null) _artifactOf[valueId] = _artifacts.Count;
        _artifacts.Add(new DisplayedArtifact(_cell, view));
    }

    /// <summary>A value as the kit's view: its own views, DataFrames as tables, Plotly.NET charts as charts.</summary>
    public static IRichView? AsView(object? value) => value switch
    {
        IRichView view => view,
        DataFrame frame => frame.AsTable("table"),
        Plotly.NET.GenericChart chart => chart.ToChartView(),
        _ => null,
    };
}
