// Image grids, tables, charts and progress, checked against hand-worked values.
using Kit.Notebook;
using SkiaSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public class NotebookHelperTests
{
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
