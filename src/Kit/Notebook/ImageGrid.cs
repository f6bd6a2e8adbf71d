// Image grids: a batch of images as one PNG, nearest-neighbour upscaled so 32×32 images are visible,
// with an optional caption under each image.
using SkiaSharp;
using static TorchSharp.torch;

namespace Kit.Notebook;

/// <summary>A grid of images rendered to PNG; displays as a picture in notebooks.</summary>
[TypeFormatterSource(typeof(KitFormatterSource), PreferredMimeTypes = new[] { "text/html" })]
public sealed class ImageGrid : IRichView
{
    readonly byte[] _png;

    ImageGrid(byte[] png, int count, int width, int height, IReadOnlyList<string>? captions, string? title, bool captionsDrawn)
    {
        _png = png; Count = count; Width = width; Height = height; Captions = captions; Title = title; CaptionsDrawn = captionsDrawn;
    }

    /// <summary>Number of images in the grid.</summary>
    public int Count { get; }
    /// <summary>PNG width in pixels.</summary>
    public int Width { get; }
    /// <summary>PNG height in pixels.</summary>
    public int Height { get; }
    /// <summary>Captions, one per image (or null).</summary>
    public IReadOnlyList<string>? Captions { get; }
    /// <summary>Optional title (used as the figure name in reports).</summary>
    public string? Title { get; }
    /// <summary>False when no font could be loaded, so captions appear only in the HTML.</summary>
    public bool CaptionsDrawn { get; }

    /// <summary>
    /// Renders images [B, C, H, W] (C = 1 or 3, values in [−1, 1]) into a grid of <paramref name="columns"/>
    /// columns, each image scaled ×<paramref name="scale"/> with nearest-neighbour sampling.
    /// </summary>
    public static ImageGrid From(Tensor images, IReadOnlyList<string>? captions = null, int columns = 8, int scale = 4,
        string? title = null, int maxImages = 64)
    {
        if (images.dim() != 4 || (images.shape[1] != 1 && images.shape[1] != 3))
            throw new ArgumentException($"images must be [B, C, H, W] with C = 1 or 3; got [{string.Join(", ", images.shape)}].",
                nameof(images));
        if (columns < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "expected at least one column");
        if (scale < 1 || scale > 32) throw new ArgumentOutOfRangeException(nameof(scale), scale, "expected an integer upscale factor 1–32");
        int count = (int)Math.Min(images.shape[0], maxImages), c = (int)images.shape[1], h = (int)images.shape[2], w = (int)images.shape[3];
        if (captions is not null && captions.Count < count)
            throw new ArgumentException($"captions has {captions.Count} entries for {count} images.", nameof(captions));
        byte[] pixels;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var bytes = images[..count].detach().cpu().to(ScalarType.Float32).clamp(-1, 1).add(1).mul(127.5f).round().to(ScalarType.Byte)
                .permute(0, 2, 3, 1).contiguous(); // → [B, H, W, C]
            pixels = bytes.data<byte>().ToArray();
        }
        return FromBytes(pixels, count, c, h, w, captions, columns, scale, title);
    }

    /// <summary>Same as <see cref="From"/> from raw bytes laid out [B, H, W, C].</summary>
    public static ImageGrid FromBytes(byte[] pixels, int count, int channels, int height, int width, IReadOnlyList<string>? captions = null,
        int columns = 8, int scale = 4, string? title = null)
    {
        columns = Math.Min(columns, Math.Max(1, count));
        int rows = (count + columns - 1) / columns, cellW = width * scale, cellH = height * scale, pad = 4;
        using var font = LoadFont(captions is null ? 0 : Math.Clamp(cellW / 14f, 9f, 13f));
        int lines = captions is null || font is null ? 0 : captions.Take(count).Select(t => Wrap(t, font,
            cellW).Count).DefaultIfEmpty(0).Max();
        int captionH = font is null ? 0 : (int)Math.Ceiling(lines * font.Spacing);
        int gridW = columns * (cellW + pad) + pad, gridH = rows * (cellH + captionH + pad) + pad;
        using var bitmap = new SKBitmap(new SKImageInfo(gridW, gridH, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(new SKColor(250, 250, 250));
        using var text = new SKPaint { Color = new SKColor(30, 30, 30), IsAntialias = true };
        for (int i = 0; i < count; i++)
        {
            int x0 = pad + (i % columns) * (cellW + pad), y0 = pad + (i / columns) * (cellH + captionH + pad);
            for (int y = 0; y < cellH; y++)
                for (int x = 0; x < cellW; x++)
                {
                    int s = ((i * height + y / scale) * width + x / scale) * channels;
                    var colour = channels == 1 ? new SKColor(pixels[s], pixels[s], pixels[s]) : new SKColor(pixels[s], pixels[s + 1],
                        pixels[s + 2]);
                    bitmap.SetPixel(x0 + x, y0 + y, colour);
                }
            if (font is not null && captions is not null)
            {
                float ty = y0 + cellH - font.Metrics.Ascent + 1;
                foreach (var line in Wrap(captions[i], font, cellW)) { canvas.DrawText(line, x0, ty, font, text); ty += font.Spacing; }
            }
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return new ImageGrid(data.ToArray(), count, gridW, gridH, captions?.Take(count).ToList(), title,
            font is not null || captions is null);
    }

    // A machine without fonts still gets its grid; the captions then appear only in the HTML.
    static SKFont? LoadFont(float size)
    {
        if (size <= 0) return null;
        var typeface = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;
        var font = new SKFont(typeface, size);
        if (font.GetGlyphs("a")[0] == 0) { font.Dispose(); return null; }
        return font;
    }

    static List<string> Wrap(string caption, SKFont font, float width)
    {
        var lines = new List<string>();
        var current = "";
        foreach (var word in caption.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = current.Length == 0 ? word : current + " " + word;
            if (current.Length > 0 && font.MeasureText(candidate) > width) { lines.Add(current); current = word; }
            else current = candidate;
        }
        if (current.Length > 0) lines.Add(current);
        return lines.Count == 0 ? new List<string> { "" } : lines;
    }

    public byte[]? ToPng() => _png;

    public string ToHtml()
    {
        var img = $"<img alt=\"{Escape(Title ?? "image grid")}\" style=\"image-rendering: pixelated; max-width: 100%\" " +
            $"src=\"data:image/png;base64,{Convert.ToBase64String(_png)}\"/>";
        var list = Captions is null || CaptionsDrawn ? "" : "<ol>" + string.Concat(Captions.Select(c => $"<li>{Escape(c)}</li>")) + "</ol>";
        var head = Title is null ? "" : $"<div><b>{Escape(Title)}</b></div>";
        return $"<div>{head}{img}{list}</div>";
    }

    public string ToPlainText() =>
        $"ImageGrid: {Count} images, {Width}×{Height} px{(Title is null ? "" : $" — {Title}")}" +
        (Captions is null ? "" : "\n" + string.Join("\n", Captions.Select((c, i) => $"  [{i}] {c}")));

    public override string ToString() => ToPlainText();

    internal static string Escape(string s) => System.Net.WebUtility.HtmlEncode(s);
}
