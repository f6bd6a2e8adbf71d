// `kit notebook compare a.ipynb b.ipynb`: do two executed copies of one notebook (the kit's runner and the real kernel
// through Jupyter, say) show the same tables? Every HTML table the kit wrote (ResultTable's markup) is read back in
// order — title, column names, cells — and compared cell by cell as text. Columns a table marks as measured
// (data-kit-measured: seconds, items/s, share of the matmul peak) change from run to run and are skipped; everything
// else must be equal, since both runs use the same seed on the same machine.
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Kit.Cli.Notebooks;

/// <summary>One table read back from an executed notebook's HTML.</summary>
public sealed record NotebookTable(int Cell, string Title, IReadOnlyList<string> Columns, IReadOnlySet<int> Measured,
    IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>Compares the tables of executed notebooks.</summary>
public static class NotebookComparer
{
    static readonly Regex Table = new(@"<div><b>(?<title>.*?)</b><table[^>]*>(?<body>.*?)</table>",
        RegexOptions.Singleline | RegexOptions.Compiled);
    static readonly Regex Header = new(@"<th(?<attrs>[^>]*)>(?<text>.*?)</th>", RegexOptions.Singleline | RegexOptions.Compiled);
    static readonly Regex Row = new(@"<tr(?<attrs>[^>]*)>(?<cells>.*?)</tr>", RegexOptions.Singleline | RegexOptions.Compiled);
    static readonly Regex Data = new(@"<td[^>]*>(?<text>.*?)</td>", RegexOptions.Singleline | RegexOptions.Compiled);

    /// <summary>The tables of an executed notebook, in the order its outputs show them.</summary>
    public static IReadOnlyList<NotebookTable> Tables(string executedNotebook)
    {
        var cells = JsonNode.Parse(File.ReadAllText(executedNotebook))!["cells"]!.AsArray();
        var tables = new List<NotebookTable>();
        for (int i = 0; i < cells.Count; i++)
            foreach (var output in cells[i]!["outputs"]?.AsArray() ?? new JsonArray())
            {
                var html = output?["data"]?["text/html"] switch
                {
                    JsonArray lines => string.Concat(lines.Select(l => l!.GetValue<string>())),
                    JsonValue v => v.GetValue<string>(),
                    _ => null,
                };
                if (html is null) continue;
                foreach (Match t in Table.Matches(html))
                {
                    var body = t.Groups["body"].Value;
                    var headers = Header.Matches(body).ToList();
                    var measured = headers.Select((h, c) => (h,
                        c)).Where(x => x.h.Groups["attrs"].Value.Contains("data-kit-measured")).Select(x => x.c).ToHashSet();
                    // A measured row keeps its first cell (its name) and reads as measured in the rest.
                    var rows = Row.Matches(body).Select(r => (IReadOnlyList<string>)Data.Matches(r.Groups["cells"].Value)
                            .Select((d, c) => c > 0 && r.Groups["attrs"].Value.Contains("data-kit-measured")
                                ? "(measured)" : Decode(d.Groups["text"].Value)).ToList())
                        .Where(r => r.Count > 0).ToList();
                    tables.Add(new NotebookTable(i + 1, Decode(t.Groups["title"].Value),
                        headers.Select(h => Decode(h.Groups["text"].Value)).ToList(), measured, rows));
                }
            }
        return tables;
    }

    static string Decode(string html) => WebUtility.HtmlDecode(html).Trim();

    /// <summary>
    /// Every difference between the tables of <paramref name="expected"/> and <paramref name="actual"/>, one line each
    /// (empty when they agree); measured columns are skipped.
    /// </summary>
    public static IReadOnlyList<string> Differences(string expected, string actual)
    {
        var a = Tables(expected);
        var b = Tables(actual);
        var differences = new List<string>();
        if (a.Count != b.Count) differences.Add($"{a.Count} tables in {expected}, {b.Count} in {actual}");
        for (int t = 0; t < Math.Min(a.Count, b.Count); t++)
        {
            var (x, y) = (a[t], b[t]);
            var where = $"table {t + 1} ('{x.Title}', cell {x.Cell})";
            if (x.Title != y.Title) { differences.Add($"{where}: titled '{y.Title}' in the second"); continue; }
            if (!x.Columns.SequenceEqual(y.Columns)) { differences.Add($"{where}: columns [{string.Join(", ", x.Columns)}] vs " +
                $"[{string.Join(", ", y.Columns)}]"); continue; }
            if (x.Rows.Count != y.Rows.Count) { differences.Add($"{where}: {x.Rows.Count} rows vs {y.Rows.Count}"); continue; }
            for (int r = 0; r < x.Rows.Count; r++)
                for (int c = 0; c < Math.Min(x.Rows[r].Count, y.Rows[r].Count); c++)
                    if (!x.Measured.Contains(c) && x.Rows[r][c] != y.Rows[r][c])
                        differences.Add($"{where}, row {r + 1}, '{x.Columns[c]}': {x.Rows[r][c]} vs {y.Rows[r][c]}");
        }
        return differences;
    }
}
