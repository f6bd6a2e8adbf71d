// A Polyglot (.ipynb, nbformat 4) notebook as JSON, kept whole so that everything the runner does not
// touch (metadata, attachments, ids) survives into the executed copy.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kit.Cli.Notebooks;

/// <summary>One cell of a notebook.</summary>
public sealed class NotebookCell
{
    internal NotebookCell(JsonObject node) => Node = node;

    internal JsonObject Node { get; }

    /// <summary>"code", "markdown" or "raw".</summary>
    public string CellType => Node["cell_type"]?.GetValue<string>() ?? "code";

    /// <summary>The cell's source as one string ("source" may be a string or a list of lines).</summary>
    public string Source
    {
        get => Node["source"] switch
        {
            JsonArray lines => string.Concat(lines.Select(l => l!.GetValue<string>())),
            JsonValue v => v.GetValue<string>(),
            _ => "",
        };
        set => Node["source"] = NotebookDocument.Lines(value);
    }

    /// <summary>The cell's tags (metadata.tags).</summary>
    public IReadOnlyList<string> Tags =>
        (Node["metadata"]?["tags"] as JsonArray)?.Select(t => t!.GetValue<string>()).ToList() ?? new List<string>();

    /// <summary>The kernel language of a code cell: Polyglot metadata, else "csharp".</summary>
    public string Language =>
        Node["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
        ?? Node["metadata"]?["dotnet_interactive"]?["language"]?.GetValue<string>()
        ?? "csharp";

    /// <summary>The output list (created for code cells).</summary>
    public JsonArray Outputs => Node["outputs"] as JsonArray ?? (JsonArray)(Node["outputs"] = new JsonArray());
}

/// <summary>Reads, edits and writes .ipynb files.</summary>
public sealed class NotebookDocument
{
    readonly JsonObject _root;

    NotebookDocument(JsonObject root, string? path)
    {
        _root = root;
        Path = path;
        Cells = ((root["cells"] as JsonArray) ?? throw new InvalidDataException($"{path}: no \"cells\" array; not a notebook."))
            .Select(c => new NotebookCell(c as JsonObject ?? throw new InvalidDataException($"{path}: a cell is not a JSON object."))).ToList();
    }

    /// <summary>Where the notebook was read from (null for one built in memory).</summary>
    public string? Path { get; }

    /// <summary>The cells in order.</summary>
    public List<NotebookCell> Cells { get; }

    /// <summary>Reads a notebook; a non-notebook or a version other than nbformat 4 is a clear error.</summary>
    public static NotebookDocument Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"notebook '{path}' does not exist.", path);
        JsonObject root;
        try { root = JsonNode.Parse(File.ReadAllText(path))!.AsObject(); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); is it an .ipynb notebook?"); }
        var format = root["nbformat"]?.GetValue<int>();
        if (format != 4) throw new InvalidDataException($"{path}: nbformat {format?.ToString() ?? "missing"}; the runner reads nbformat 4.");
        return new NotebookDocument(root, path);
    }

    /// <summary>A new Polyglot C# notebook from (cell type, source, tags) triples.</summary>
    public static NotebookDocument Create(IEnumerable<(string Type, string Source, string[]? Tags)> cells)
    {
        var array = new JsonArray();
        foreach (var (type, source, tags) in cells)
        {
            var metadata = new JsonObject();
            if (tags is { Length: > 0 }) metadata["tags"] = new JsonArray(tags.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray());
            var cell = new JsonObject { ["cell_type"] = type, ["metadata"] = metadata, ["source"] = Lines(source) };
            if (type == "code")
            {
                metadata["dotnet_interactive"] = new JsonObject { ["language"] = "csharp" };
                metadata["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" };
                cell["execution_count"] = null;
                cell["outputs"] = new JsonArray();
            }
            array.Add(cell);
        }
        var root = new JsonObject
        {
            ["cells"] = array,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
                ["language_info"] = new JsonObject { ["name"] = "polyglot-notebook" },
                ["polyglot_notebook"] = new JsonObject
                {
                    ["kernelInfo"] = new JsonObject
                    {
                        ["defaultKernelName"] = "csharp",
                        ["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["name"] = "csharp" }),
                    },
                },
            },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        return new NotebookDocument(root, null);
    }

    /// <summary>The notebook-level metadata object.</summary>
    public JsonObject Metadata => _root["metadata"] as JsonObject ?? (JsonObject)(_root["metadata"] = new JsonObject());

    /// <summary>Inserts a new code cell at <paramref name="index"/>.</summary>
    public NotebookCell InsertCodeCell(int index, string source, params string[] tags)
    {
        var doc = Create(new[] { ("code", source, (string[]?)tags) });
        var node = doc.Cells[0].Node;
        ((JsonArray)doc._root["cells"]!).Clear();
        ((JsonArray)_root["cells"]!).Insert(index, node);
        var cell = new NotebookCell(node);
        Cells.Insert(index, cell);
        return cell;
    }

    /// <summary>Writes the notebook (atomically), one-space indented as Jupyter does.</summary>
    public void Save(string path) =>
        Kit.Core.AtomicFile.WriteAllText(path, _root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");

    /// <summary>Splits text into the line list nbformat uses (each line keeps its "\n").</summary>
    internal static JsonArray Lines(string text)
    {
        var result = new JsonArray();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
            if (text[i] == '\n') { result.Add(text[start..(i + 1)]); start = i + 1; }
        if (start < text.Length) result.Add(text[start..]);
        return result;
    }
}
