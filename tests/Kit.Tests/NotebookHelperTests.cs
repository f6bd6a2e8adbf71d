// Image grids, tables, charts and progress, checked against hand-worked values.
using Kit.Notebook;
using SkiaSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public class NotebookHelperTests
{
    [Fact]
    public void ATableDeclaredAsColumnsHoldsWhatEachColumnReadsOfEachRow()
    {
        var runs = new[] { (K: 16, Name: "EMA", Psnr: 21.5, Timed: false), (K: 256, Name: "gradient", Psnr: 19.25, Timed: true) };
        var table = ResultTable.Of("PSNR by K", runs, new TableColumn<(int K, string Name, double Psnr, bool Timed)>[]
        {
            new("K", r => r.K), new("method", r => r.Name), new("PSNR", r => r.Psnr),
        }, note: "two runs", measured: new[] { "PSNR" }, measuredRow: r => r.Timed);
        Assert.Equal(new[] { "K", "method", "PSNR" }, table.Frame.Columns.Select(c => c.Name));
        Assert.Equal(256.0, table.Frame.Columns["K"][1]);
        Assert.Equal("EMA", table.Frame.Columns["method"][0]);
        Assert.Equal(19.25, table.Frame.Columns["PSNR"][1]);
        Assert.Equal(new[] { 1 }, table.MeasuredRows);
        Assert.Contains("PSNR", table.MeasuredColumns);
        Assert.Equal("two runs", table.Note);
    }

    [Fact]
    public void ImageGridUpscalesWithNearestNeighbour()
    {
        // Two 2×2 RGB images; values in [−1, 1] map to bytes round((v + 1) · 127.5).
        var values = new float[] { -1, 1, 0, 0.5f, /* G */ 0, 0, 0, 0, /* B */ 1, 1, 1, 1,
                                   1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1 };
        using var images = tensor(values, new long[] { 2, 3, 2, 2 });
        var grid = ImageGrid.From(images, columns: 2, scale: 3);
        using var bitmap = SKBitmap.Decode(grid.ToPng());
        const int pad = 4;
        SKColor At(int image, int x, int y) => bitmap.GetPixel(pad + image * (6 + pad) + x, pad + y);
        Assert.Equal(new SKColor(0, 128, 255), At(0, 0, 0));   // (−1, 0, 1)
        Assert.Equal(new SKColor(0, 128, 255), At(0, 2, 2));   // same source pixel, scaled ×3
        Assert.Equal(new SKColor(255, 128, 255), At(0, 3, 0)); // (1, 0, 1)
        Assert.Equal(new SKColor(191, 128, 255), At(0, 5, 5)); // (0.5, 0, 1): round(191.25)
        Assert.Equal(new SKColor(255, 0, 0), At(1, 4, 1));
        Assert.Equal(2 * 6 + 3 * pad, bitmap.Width);
    }

    [Fact]
    public void ImageGridRejectsBadInput()
    {
        using var wrong = zeros(2, 5, 4, 4);
        var e = Assert.Throws<ArgumentException>(() => ImageGrid.From(wrong));
        Assert.Contains("C = 1 or 3", e.Message);
        using var ok = zeros(3, 1, 4, 4);
        Assert.Throws<ArgumentException>(() => ImageGrid.From(ok, captions: new[] { "one" }));
    }

    [Fact]
    public void TablesRenderAsMarkdownCsvAndHtml()
    {
        var table = ResultTable.FromRows("PSNR by K", new[] { "K", "method", "PSNR" },
            new[] { new object?[] { 16, "VQ", 21.456789 }, new object?[] { 1024, "LFQ, grouped", 24.5 } }, note: "paper: 2.65 → 1.15 rFID");
        Assert.Equal("**PSNR by K**\n\n| K | method | PSNR |\n|---|---|---|\n| 16 | VQ | 21.4568 |\n| 1024 | LFQ, grouped | 24.5 |\n\n_paper: 2.65 → 1.15 rFID_\n", table.ToMarkdown());
        Assert.Equal("K,method,PSNR\n16,VQ,21.4568\n1024,\"LFQ, grouped\",24.5\n", table.ToCsv());
        Assert.Contains("<th style=\"border-bottom: 1px solid #888; padding: 2px 8px; text-align: right\">PSNR</th>", table.ToHtml());
        Assert.Throws<ArgumentException>(() => ResultTable.FromRows("t", new[] { "a" }, new[] { new object?[] { 1, 2 } }));
    }

    [Fact]
    public void ChartsEmbedPlotlyOnceAndWaitForIt()
    {
        ChartView.ResetPlotlyEmbedding();
        var first = Charts.Line("loss", new double[] { 3, 2, 1 }).ToHtml();
        var second = Charts.Bar("usage", new[] { "VQ", "LFQ" }, new Dictionary<string, IReadOnlyList<double>> { ["usage"] = new double[] { 0.2, 0.9 } }).ToHtml();
        Assert.True(first.Length > 1_000_000, "the first chart carries plotly.js in full");
        Assert.True(second.Length < 100_000, "later charts reuse it");
        Assert.DoesNotContain("cdn", first[..2000], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("if (window.Plotly)", second);
        Assert.Contains("\"x\":[\"VQ\",\"LFQ\"]", second);
    }

    [Fact]
    public void TheKitsChartsAreTheFiguresPlotlyNetDraws()
    {
        // The same line and bars built by the kit's JSON writer and by Plotly.NET: the traces plotly.js receives agree.
        var x = new[] { 1.0, 2.0, 3.0 };
        var y = new[] { 0.5, 0.25, 0.125 };
        var kitLine = Charts.Line("loss", new Dictionary<string, (IReadOnlyList<double>, IReadOnlyList<double>)> { ["run"] = (x, y) }).Figure;
        var netLine = Plotly.NET.CSharp.Chart.Line<double, double, string>(x: x, y: y, Name: "run").ToChartView().Figure;
        // Numbers are compared as numbers: the two writers spell 1.0 as "1.0" and "1".
        static string Same(System.Text.Json.Nodes.JsonNode node) => node is System.Text.Json.Nodes.JsonArray a
            ? string.Join(",", a.Select(v => v is System.Text.Json.Nodes.JsonValue n && n.TryGetValue(out double d) ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : v!.ToJsonString()))
            : node.ToJsonString();
        foreach (var key in new[] { "type", "mode", "name", "x", "y" })
            Assert.Equal(Same(netLine["data"]![0]![key]!), Same(kitLine["data"]![0]![key]!));
        var categories = new[] { "VQ", "LFQ" };
        var kitBars = Charts.Bar("usage", categories, new Dictionary<string, IReadOnlyList<double>> { ["usage"] = new[] { 0.2, 0.9 } }).Figure;
        var netBars = Plotly.NET.CSharp.Chart.Column<double, string, string>(values: new[] { 0.2, 0.9 },
            Keys: new Plotly.NET.CSharp.Optional<IEnumerable<string>>(categories, true), Name: "usage").ToChartView().Figure;
        foreach (var key in new[] { "type", "name", "x", "y" })
            Assert.Equal(Same(netBars["data"]![0]![key]!), Same(kitBars["data"]![0]![key]!));
    }

    [Fact]
    public void ChartsRenderWhereFSharpCoreCannotLoad()
    {
        // The .NET Interactive kernel ships an FSharp.Core older than Plotly.NET needs. In a load context that cannot load
        // FSharp.Core at all, the kit's chart still renders, while a chart built with Plotly.NET fails (the case is real).
        var context = new NoFSharpCore();
        try
        {
            var kit = context.LoadFromAssemblyName(new System.Reflection.AssemblyName("Kit"));
            var charts = kit.GetType("Kit.Notebook.Charts")!;
            var line = charts.GetMethods().Single(m => m.Name == "Line" && m.GetParameters()[1].ParameterType == typeof(IReadOnlyList<double>));
            var view = line.Invoke(null, new object[] { "loss", new double[] { 3, 2, 1 }, "value", "step", "value" })!;
            var html = (string)view.GetType().GetMethod("ToStandaloneHtml")!.Invoke(view, new object?[] { null })!;
            Assert.Contains("Plotly.newPlot", html);
            Assert.Contains("\"y\":[3,2,1]", html);
            Assert.True(html.Length > 1_000_000, "plotly.js itself is read from Plotly.NET's assembly without running its code");
            var failure = Assert.ThrowsAny<Exception>(() =>
            {
                var plotly = context.LoadFromAssemblyName(new System.Reflection.AssemblyName("Plotly.NET.CSharp"));
                var netLine = plotly.GetType("Plotly.NET.CSharp.Chart")!.GetMethods().First(m => m.Name == "Line" && m.IsGenericMethodDefinition && m.GetGenericArguments().Length == 3)
                    .MakeGenericMethod(typeof(double), typeof(double), typeof(string));
                var args = netLine.GetParameters().Select(p => p.Name is "x" or "y" ? (object)new double[] { 1, 2 } : p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null).ToArray();
                netLine.Invoke(null, args);
            });
            Assert.Contains("FSharp.Core", failure.ToString());
        }
        finally { context.Unload(); }
    }

    sealed class NoFSharpCore : System.Runtime.Loader.AssemblyLoadContext
    {
        public NoFSharpCore() : base("no FSharp.Core", isCollectible: true) { }

        protected override System.Reflection.Assembly? Load(System.Reflection.AssemblyName name)
        {
            if (name.Name == "FSharp.Core") throw new FileNotFoundException("FSharp.Core cannot be loaded in this context (as in a kernel whose FSharp.Core is too old).");
            var path = Path.Combine(AppContext.BaseDirectory, name.Name + ".dll");
            return name.Name is "Kit" or "Plotly.NET" or "Plotly.NET.CSharp" && File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }

    [Fact]
    public void ProgressLineShowsRateEtaAndMetrics()
    {
        var view = new ProgressView("train", 50, 200, 10, new Dictionary<string, double> { ["loss"] = 0.12345678 });
        Assert.Equal("train 50/200 25% | 5.0 it/s | eta 30s | loss 0.1235", view.ToPlainText());
        var writer = new StringWriter();
        var progress = new TrainingProgress(3, "fit", updateSeconds: 0, showInNotebook: false, terminal: writer);
        for (int i = 1; i <= 3; i++) progress.Report(i, new Dictionary<string, double> { ["loss"] = 1.0 / i });
        Assert.Equal(3, writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("fit 3/3 100%", writer.ToString().Split('\n')[2]);
    }
}
