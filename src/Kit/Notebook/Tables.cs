// Tables: Microsoft.Data.Analysis DataFrames rendered as HTML (notebooks), Markdown (reports) and CSV.
// DataFrame.ToString() pads columns to 10 characters and runs long values together, so the kit formats
// tables itself.
using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using Kit.Training;

namespace Kit.Notebook;

/// <summary>A titled DataFrame that displays as an HTML table and exports to Markdown and CSV.</summary>
[TypeFormatterSource(typeof(KitFormatterSource), PreferredMimeTypes = new[] { "text/html" })]
public sealed class ResultTable : IRichView
{
    public ResultTable(DataFrame frame, string title, string? note = null, IEnumerable<string>? measured = null,
        IEnumerable<int>? measuredRows = null)
    {
        Frame = frame; Title = title; Note = note;
        MeasuredColumns = (measured ?? Array.Empty<string>()).ToHashSet(StringComparer.Ordinal);
        MeasuredRows = (measuredRows ?? Array.Empty<int>()).ToHashSet();
        foreach (var row in MeasuredRows)
            if (row < 0 || row >= frame.Rows.Count)
                throw new ArgumentOutOfRangeException(nameof(measuredRows), row, $"table '{title}' has rows 0..{frame.Rows.Count - 1}.");
        foreach (var name in MeasuredColumns)
            if (!frame.Columns.Any(c => c.Name == name))
                throw new ArgumentException($"measured column '{name}' is not a column of table '{title}' (its columns: " +
                    $"{string.Join(", ", frame.Columns.Select(c => c.Name))}).", nameof(measured));
    }

    /// <summary>The data.</summary>
    public DataFrame Frame { get; }
    /// <summary>Title (also the table's file name in reports).</summary>
    public string Title { get; }
    /// <summary>An optional line under the table (e.g. the paper's figure for comparison).</summary>
    public string? Note { get; }
    /// <summary>
    /// Columns holding wall-clock measurements (seconds, items/s, share of the matmul peak): they change from run to run
    /// and machine to machine, so a comparison of two runs at the same seed skips them; every other cell must agree.
    /// </summary>
    public IReadOnlySet<string> MeasuredColumns { get; }
    /// <summary>Rows (from 0) whose cells after the first are built from such measurements (a claim about speed): skipped alike.</summary>
    public IReadOnlySet<int> MeasuredRows { get; }

    /// <summary>Builds a table from rows of values; <paramref name="columns"/> name them.</summary>
    public static ResultTable FromRows(string title, IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<object?>> rows,
        string? note = null, IEnumerable<string>? measured = null,
        IEnumerable<int>? measuredRows = null)
    {
        var data = rows.ToList();
        foreach (var (row, i) in data.Select((r, i) => (r, i)))
            if (row.Count != columns.Count) throw new ArgumentException($"row {i} has {row.Count} values for {columns.Count} columns.",
                nameof(rows));
        var frame = new DataFrame(columns.Select((name, c) => Column(name, data.Select(r => r[c]).ToList())));
        return new ResultTable(frame, title, note, measured, measuredRows);
    }

    /// <summary>
    /// Builds a table of <paramref name="rows"/> declared by its <paramref name="columns"/>, each a title and what it reads of a row:
    /// <c>ResultTable.Of("runs", results, new("PSNR dB", r =&gt; r.Psnr), new("usage %", r =&gt; 100 * r.Usage))</c>.
    /// </summary>
    /// <remarks><paramref name="measuredRow"/> marks whole rows as wall-clock measurements (a timing claim, say).</remarks>
    public static ResultTable Of<T>(string title, IEnumerable<T> rows, IReadOnlyList<TableColumn<T>> columns, string? note = null,
        IEnumerable<string>? measured = null, Func<T, bool>? measuredRow = null)
    {
        var list = rows.ToList();
        return FromRows(title, columns.Select(c => c.Title).ToArray(),
            list.Select(r => (IReadOnlyList<object?>)columns.Select(c => c.Value(r)).ToArray()), note, measured,
            measuredRow is null ? null : list.Select((r, i) => (r, i)).Where(x => measuredRow(x.r)).Select(x => x.i));
    }

    static DataFrameColumn Column(string name, IReadOnlyList<object?> values)
    {
        if (values.All(v => v is null or double or float or int or long))
            return new DoubleDataFrameColumn(name, values.Select(v => v is null ? (double?)null : Convert.ToDouble(v,
                CultureInfo.InvariantCulture)));
        return new StringDataFrameColumn(name, values.Select(v => Cell(v)));
    }

    /// <summary>Formats one value: numbers with up to 4 significant decimals, invariant culture.</summary>
    public static string Cell(object? value) => value switch
    {
        null => "",
        double d when double.IsNaN(d) => "NaN",
        double d when d == Math.Floor(d) && Math.Abs(d) < 1e15 => d.ToString("0", CultureInfo.InvariantCulture),
        double d when Math.Abs(d) >= 1e5 || (d != 0 && Math.Abs(d) < 1e-3) => d.ToString("0.###e0", CultureInfo.InvariantCulture),
        double d => d.ToString("0.####", CultureInfo.InvariantCulture),
        float f => Cell((double)f),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    IEnumerable<string> Names => Frame.Columns.Select(c => c.Name);
    IEnumerable<IEnumerable<string>> Rows() =>
        Enumerable.Range(0, (int)Frame.Rows.Count).Select(r => Frame.Columns.Select(c => Cell(c[r])));

    public string ToHtml()
    {
        var sb = new StringBuilder();
        sb.Append($"<div><b>{ImageGrid.Escape(Title)}</b><table style=\"border-collapse: collapse\"><thead><tr>");
        foreach (var n in Names)
            sb.Append($"<th{(MeasuredColumns.Contains(n) ? " data-kit-measured=\"true\"" : "")} style=\"border-bottom: 1px solid #888; " +
                $"padding: 2px 8px; text-align: right\">{ImageGrid.Escape(n)}</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var (row, r) in Rows().Select((row, r) => (row, r)))
        {
            sb.Append(MeasuredRows.Contains(r) ? "<tr data-kit-measured=\"true\">" : "<tr>");
            foreach (var v in row) sb.Append($"<td style=\"padding: 2px 8px; text-align: right\">{ImageGrid.Escape(v)}</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        if (Note is not null) sb.Append($"<div><i>{ImageGrid.Escape(Note)}</i></div>");
        return sb.Append("</div>").ToString();
    }

    /// <summary>A GitHub-flavoured Markdown table (with the title as a bold line and the note below).</summary>
    public string ToMarkdown()
    {
        string Esc(string s) => s.Replace("|", "\\|");
        var sb = new StringBuilder($"**{Title}**\n\n| {string.Join(" | ", Names.Select(Esc))} " +
            $"|\n|{string.Concat(Names.Select(_ => "---|"))}\n");
        foreach (var row in Rows()) sb.Append($"| {string.Join(" | ", row.Select(Esc))} |\n");
        if (Note is not null) sb.Append($"\n_{Note}_\n");
        return sb.ToString();
    }

    /// <summary>RFC 4180 CSV (quotes doubled, fields with commas or quotes quoted).</summary>
    public string ToCsv()
    {
        static string Q(string s) => s.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? $"\"{s.Replace("\"", "\"\"")}\"" : s;
        var sb = new StringBuilder(string.Join(",", Names.Select(Q)) + "\n");
        foreach (var row in Rows()) sb.Append(string.Join(",", row.Select(Q)) + "\n");
        return sb.ToString();
    }

    /// <summary>Writes the CSV to <paramref name="path"/>.</summary>
    public void SaveCsv(string path) => Kit.Core.AtomicFile.WriteAllText(path, ToCsv());

    public byte[]? ToPng() => null;

    public string ToPlainText()
    {
        var names = Names.ToList();
        var rows = Rows().Select(r => r.ToList()).ToList();
        var widths = names.Select((n, c) => Math.Max(n.Length, rows.Select(r => r[c].Length).DefaultIfEmpty(0).Max())).ToList();
        var sb = new StringBuilder(Title + "\n");
        sb.Append(string.Join("  ", names.Select((n, c) => n.PadLeft(widths[c])))).Append('\n');
        foreach (var r in rows) sb.Append(string.Join("  ", r.Select((v, c) => v.PadLeft(widths[c])))).Append('\n');
        if (Note is not null) sb.Append(Note).Append('\n');
        return sb.ToString().TrimEnd('\n');
    }

    public override string ToString() => ToPlainText();
}

/// <summary>One column of a table of <typeparamref name="T"/> rows: its title and what it reads of a row (a number, a string, or
/// null).</summary>
public sealed record TableColumn<T>(string Title, Func<T, object?> Value);

/// <summary>DataFrame conveniences.</summary>
public static class Tables
{
    /// <summary>Wraps a DataFrame for rich display: <c>frame.AsTable("PSNR by codebook size")</c>.</summary>
    public static ResultTable AsTable(this DataFrame frame, string title, string? note = null, IEnumerable<string>? measured = null)
        => new(frame, title, note, measured);

    /// <summary>A table of the logged steps of <paramref name="log"/> (for display or CSV export).</summary>
    public static ResultTable ToTable(this TrainingLog log, string title)
    {
        var names = log.Rows.SelectMany(r => r.Metrics.Keys).Distinct().ToList();
        var columns = new[] { "step", "loss", "lr", "seconds" }.Concat(names).ToList();
        return ResultTable.FromRows(title, columns, log.Rows.Select(r =>
            (IReadOnlyList<object?>)new object?[] { r.Step, r.Loss, r.LearningRate, r.Seconds }
                .Concat(names.Select(n => (object?)(r.Metrics.TryGetValue(n,
                    out var v) ? v : null))).ToList()), measured: new[] { "seconds" });
    }
}
