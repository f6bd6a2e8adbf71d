// Reading and writing .ipynb files through Microsoft.DotNet.Interactive.Documents, the library VS Code's Polyglot
// Notebooks use: cells, their tags (metadata) and outputs survive a round trip. What the library does not do is
// said here: a file that is valid JSON but no notebook ([], null, "nbformat": "4") makes it throw deep inside its
// parser, so the file's shape is checked first and refused in one line that names the file and what was expected;
// and writes are atomic (a temporary file renamed over the old one), so an interrupted save loses nothing.
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Documents;
using Jupyter = Microsoft.DotNet.Interactive.Documents.Jupyter.Notebook;

namespace Kit.Cli.Notebooks;

/// <summary>Loads, inspects and saves Polyglot C# notebooks.</summary>
public static class NotebookFile
{
    /// <summary>The tag of the cell the runner writes after the parameters cell.</summary>
    public const string InjectedTag = "injected-parameters";
    /// <summary>The tag of the cell that holds a notebook's knobs (papermill's convention).</summary>
    public const string ParametersTag = "parameters";

    /// <summary>Reads a notebook; anything that is not an nbformat-4 notebook is an InvalidDataException naming the file.</summary>
    public static InteractiveDocument Load(string path)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"'{path}' is a folder; expected a notebook file (.ipynb).");
        if (!File.Exists(path)) throw new FileNotFoundException($"notebook '{path}' does not exist.", path);
        var text = File.ReadAllText(path);
        Validate(text, path);
        try { return Jupyter.Parse(text, KernelInfos()); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException
            or InvalidCastException or NullReferenceException)
        {
            throw new InvalidDataException($"{path}: not a notebook the kit can read ({e.Message}).");
        }
    }

    static void Validate(string text, string path)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(text); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); expected an .ipynb notebook."); }
        if (root is not JsonObject o)
            throw new InvalidDataException($"{path}: the file holds JSON {Kind(root)}; expected a notebook (a JSON object with " +
                $"\"nbformat\": 4 and a \"cells\" array).");
        if (o["nbformat"] is not JsonValue v || !v.TryGetValue(out int format))
            throw new InvalidDataException($"{path}: \"nbformat\" is {Kind(o["nbformat"])}; expected the number 4.");
        if (format != 4) throw new InvalidDataException($"{path}: nbformat {format}; the kit reads nbformat 4.");
        if (o["cells"] is not JsonArray cells)
            throw new InvalidDataException($"{path}: \"cells\" is {Kind(o["cells"])}; expected an array of cells.");
        for (int i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject cell)
                throw new InvalidDataException($"{path}: cell {i + 1} is {Kind(cells[i])}; expected a JSON object.");
            if (cell["cell_type"] is not JsonValue t || !t.TryGetValue(out string? _))
                throw new InvalidDataException($"{path}: cell {i + 1} has no \"cell_type\" string.");
        }
    }

    static string Kind(JsonNode? node) => node switch
    {
        null => "missing or null",
        JsonArray => "an array",
        JsonObject => "an object",
        JsonValue v when v.TryGetValue(out string? s) => $"the string \"{s}\"",
        JsonValue v => $"the value {v.ToJsonString()}",
    };

    // The kernels a kit notebook may name; Polyglot metadata in the file takes precedence.
    static KernelInfoCollection KernelInfos() => new() { new KernelInfo("csharp", "C#", new[] { "c#", "C#" }) };

    /// <summary>Writes the notebook atomically, as Polyglot Notebooks write it.</summary>
    public static void Save(InteractiveDocument doc, string path)
    {
        using var buffer = new MemoryStream();
        Jupyter.Write(doc, buffer, KernelInfos());
        var json = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        // The library adds an empty top-level "kernelInfo" the notebooks never had; drop it so a copy reads like its source.
        var root = JsonNode.Parse(json)!.AsObject();
        if (root["metadata"] is JsonObject metadata && metadata["kernelInfo"] is JsonObject info && info["items"] is JsonArray { Count: 0 })
            metadata.Remove("kernelInfo");
        Kit.Core.AtomicFile.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }

    /// <summary>A new Polyglot C# notebook from (cell type, source, tags) triples ("code" or "markdown").</summary>
    public static InteractiveDocument Create(IEnumerable<(string Type, string Source, string[]? Tags)> cells)
    {
        var doc = new InteractiveDocument();
        foreach (var (type, source, tags) in cells)
            doc.Add(Cell(type == "markdown" ? "markdown" : "csharp", source, tags));
        doc.Metadata["kernelspec"] = new Dictionary<string, object> { ["display_name"] = ".NET (C#)", ["language"] = "C#",
            ["name"] = ".net-csharp" };
        doc.Metadata["language_info"] = new Dictionary<string, object> { ["name"] = "polyglot-notebook" };
        return doc;
    }

    /// <summary>A cell for <paramref name="kernelName"/> ("csharp" or "markdown") with optional tags.</summary>
    public static InteractiveDocumentElement Cell(string kernelName, string source, params string[]? tags)
    {
        var element = new InteractiveDocumentElement(source, kernelName);
        if (tags is { Length: > 0 }) element.Metadata = new Dictionary<string, object> { ["tags"] = tags.Cast<object>().ToArray() };
        return element;
    }

    /// <summary>The cell's tags (metadata.tags).</summary>
    public static IReadOnlyList<string> Tags(InteractiveDocumentElement element) =>
        element.Metadata?.TryGetValue("tags", out var tags) == true && tags is System.Collections.IEnumerable list and not string
            ? list.Cast<object?>().Select(t => t?.ToString() ?? "").ToList()
            : Array.Empty<string>();

    /// <summary>True for a code cell (every kernel but markdown).</summary>
    public static bool IsCode(InteractiveDocumentElement element) => element.KernelName is not ("markdown" or "md");

    /// <summary>The notebook's title: its first Markdown heading, or null.</summary>
    public static string? Title(InteractiveDocument doc) => doc.Elements.Where(e => !IsCode(e))
        .Select(e => System.Text.RegularExpressions.Regex.Match(e.Contents, @"^#\s+(.+)$",
            System.Text.RegularExpressions.RegexOptions.Multiline))
        .FirstOrDefault(m => m.Success)?.Groups[1].Value.Trim();

    /// <summary>Joined text of an output's MIME value (the library keeps it as a string or a list of lines).</summary>
    public static string Text(object? value) => value switch
    {
        null => "",
        string s => s,
        System.Collections.IEnumerable lines => string.Concat(lines.Cast<object?>().Select(l => l?.ToString())),
        _ => value.ToString() ?? "",
    };
}
