// Collects one cell's outputs in the order they happen: text written to the console becomes a "stream"
// output, each display() a "display_data" output, the trailing expression an "execute_result".
using System.Collections;
using System.Text;
using System.Text.Json.Nodes;
using Kit.Notebook;
using Microsoft.Data.Analysis;

namespace Kit.Cli.Notebooks;

/// <summary>Something a notebook displayed that the report keeps (tables, charts, image grids).</summary>
public sealed record DisplayedArtifact(int Cell, IRichView View);

/// <summary>The runner's display sink and console writer for the cell being run.</summary>
public sealed class OutputCollector : TextWriter, IDisplaySink
{
    readonly StringBuilder _pending = new();
    readonly object _gate = new();
    JsonArray _outputs = new();
    int _cell;

    public override Encoding Encoding => Encoding.UTF8;

    /// <summary>Everything the notebook displayed that a report can use, in order.</summary>
    public List<DisplayedArtifact> Artifacts { get; } = new();

    /// <summary>Starts collecting into <paramref name="outputs"/> for cell <paramref name="cell"/>.</summary>
    public void Begin(JsonArray outputs, int cell)
    {
        lock (_gate) { FlushText(); _outputs = outputs; _cell = cell; }
    }

    /// <summary>Emits any pending console text as a stream output.</summary>
    public void End() { lock (_gate) FlushText(); }

    public override void Write(char value) { lock (_gate) _pending.Append(value); }
    public override void Write(string? value) { lock (_gate) _pending.Append(value); }

    void FlushText()
    {
        if (_pending.Length == 0) return;
        _outputs.Add(new JsonObject { ["output_type"] = "stream", ["name"] = "stdout", ["text"] = NotebookDocument.Lines(_pending.ToString()) });
        _pending.Clear();
    }

    public IDisplayHandle Display(object value)
    {
        lock (_gate)
        {
            FlushText();
            var output = new JsonObject { ["output_type"] = "display_data", ["data"] = Bundle(value), ["metadata"] = new JsonObject() };
            _outputs.Add(output);
            Remember(value);
            return new Handle(this, output);
        }
    }

    /// <summary>Adds the value of a cell's trailing expression.</summary>
    public void Result(object value, int executionCount)
    {
        lock (_gate)
        {
            FlushText();
            _outputs.Add(new JsonObject { ["output_type"] = "execute_result", ["data"] = Bundle(value), ["metadata"] = new JsonObject(), ["execution_count"] = executionCount });
            Remember(value);
        }
    }

    /// <summary>Adds an error output.</summary>
    public void Error(string name, string message, IEnumerable<string> traceback)
    {
        lock (_gate)
        {
            FlushText();
            _outputs.Add(new JsonObject
            {
                ["output_type"] = "error", ["ename"] = name, ["evalue"] = message,
                ["traceback"] = new JsonArray(traceback.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            });
        }
    }

    void Remember(object value)
    {
        if (AsView(value) is IRichView view and not ProgressView) Artifacts.Add(new DisplayedArtifact(_cell, view));
    }

    /// <summary>
    /// The MIME bundle for a value, by the same convention the .NET Interactive kernel honours: an attribute
    /// named TypeFormatterSourceAttribute on the value's type names a source of formatters. When a bundle
    /// has a picture (image/png) its HTML is dropped, since the HTML would only repeat the picture.
    /// </summary>
    public static JsonObject Bundle(object value)
    {
        value = AsView(value) ?? value;
        var data = new JsonObject();
        foreach (var (mime, text) in ConventionFormats(value)) data[mime] = text;
        if (data.ContainsKey("image/png")) data.Remove("text/html");
        if (!data.ContainsKey("text/plain")) data["text/plain"] = PlainText(value);
        return data;
    }

    // Foreign types the kit displays as its own views: DataFrames as tables, Plotly charts as the kit registers them in a kernel.
    static object? AsView(object value) => value switch
    {
        DataFrame frame => frame.AsTable("table"),
        Plotly.NET.GenericChart chart => new ChartView(chart, "chart"),
        IRichView view => view,
        _ => null,
    };

    static IEnumerable<(string Mime, string Text)> ConventionFormats(object value)
    {
        var attribute = value.GetType().GetCustomAttributes(true).FirstOrDefault(a => a.GetType().Name == "TypeFormatterSourceAttribute");
        if (attribute?.GetType().GetProperty("FormatterSourceType")?.GetValue(attribute) is not Type sourceType) yield break;
        var source = Activator.CreateInstance(sourceType, nonPublic: true);
        if (sourceType.GetMethod("CreateTypeFormatters")?.Invoke(source, null) is not IEnumerable formatters) yield break;
        foreach (var formatter in formatters)
        {
            var type = formatter.GetType();
            var mime = type.GetProperty("MimeType")?.GetValue(formatter) as string;
            var format = type.GetMethod("Format", new[] { typeof(object), typeof(TextWriter) });
            if (mime is null || format is null) continue;
            var writer = new StringWriter();
            if (format.Invoke(formatter, new[] { value, writer }) is true) yield return (mime, writer.ToString());
        }
    }

    static string PlainText(object value) => value switch
    {
        string s => s,
        IDictionary d => "{ " + string.Join(", ", d.Keys.Cast<object>().Select(k => $"{k}: {d[k]}")) + " }",
        IEnumerable e => "[ " + string.Join(", ", e.Cast<object?>().Take(100).Select(x => x?.ToString() ?? "null")) + " ]",
        _ => value.ToString() ?? "",
    };

    sealed class Handle : IDisplayHandle
    {
        readonly OutputCollector _owner;
        readonly JsonObject _output;
        public Handle(OutputCollector owner, JsonObject output) { _owner = owner; _output = output; }
        public void Update(object value) { lock (_owner._gate) _output["data"] = Bundle(value); }
    }
}
