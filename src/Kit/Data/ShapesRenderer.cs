// Draws a ShapesScene with SkiaSharp: anti-aliased objects for the image, the same paths without
// anti-aliasing for the per-pixel class mask, so mask pixels always lie inside the drawn object.
using Kit.Core;
using SkiaSharp;

namespace Kit.Data;

/// <summary>Renders scenes to RGB bytes and class masks.</summary>
public static class ShapesRenderer
{
    /// <summary>The RGB value of each colour word.</summary>
    public static readonly IReadOnlyDictionary<ShapeColour, (byte R, byte G, byte B)> Rgb = new Dictionary<ShapeColour, (byte, byte, byte)>
    {
        [ShapeColour.Red] = (220, 40, 40), [ShapeColour.Green] = (40, 180, 60), [ShapeColour.Blue] = (50, 90, 235),
        [ShapeColour.Yellow] = (240, 220, 40), [ShapeColour.Purple] = (150, 60, 205), [ShapeColour.Orange] = (250, 140, 30),
        [ShapeColour.White] = (245, 245, 245),
    };

    /// <summary>
    /// Draws <paramref name="scene"/> at <paramref name="resolution"/>² pixels. Returns RGB bytes (row-major,
    /// H×W×3) and the class mask (H×W, 0 = background, else (int)shape + 1). <paramref name="rng"/> supplies
    /// the position jitter inside each cell and the background noise.
    /// </summary>
    public static (byte[] Rgb, byte[] Mask) Render(ShapesScene scene, int resolution, ShapesBackground background, KitRandom rng)
    {
        int n = resolution;
        var info = new SKImageInfo(n, n, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var image = new SKBitmap(info);
        using var canvas = new SKCanvas(image);
        canvas.Clear(SKColors.Black);
        if (background == ShapesBackground.Noise) PaintNoise(image, rng);

        var mask = new byte[n * n];
        using var coverage = new SKBitmap(new SKImageInfo(n, n, SKColorType.Alpha8, SKAlphaType.Premul));
        using var coverageCanvas = new SKCanvas(coverage);
        foreach (var obj in scene.Objects)
        {
            using var path = ObjectPath(obj, n, rng);
            var (r, g, b) = Rgb[obj.Colour];
            using (var paint = new SKPaint { Color = new SKColor(r, g, b), IsAntialias = true, Style = SKPaintStyle.Fill })
                canvas.DrawPath(path, paint);
            coverageCanvas.Clear(SKColors.Transparent);
            using (var paint = new SKPaint { Color = SKColors.White, IsAntialias = false, Style = SKPaintStyle.Fill })
                coverageCanvas.DrawPath(path, paint);
            var alpha = coverage.GetPixelSpan();
            for (int y = 0; y < n; y++)
                for (int x = 0; x < n; x++)
                    if (alpha[y * coverage.RowBytes + x] >= 128) mask[y * n + x] = (byte)obj.ClassId;
        }

        var rgb = new byte[n * n * 3];
        var px = image.GetPixelSpan();
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                int s = y * image.RowBytes + x * 4, d = (y * n + x) * 3;
                rgb[d] = px[s]; rgb[d + 1] = px[s + 1]; rgb[d + 2] = px[s + 2]; // opaque, so premultiplied = straight
            }
        return (rgb, mask);
    }

    // Low-amplitude grey noise with a faint diagonal texture: enough to make "background" something a
    // tokenizer must spend bits on (LaVIT's selector should learn to drop it), not enough to hide objects.
    static void PaintNoise(SKBitmap image, KitRandom rng)
    {
        int n = image.Width;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                double v = 28 + 10 * Math.Sin((x + y) * 0.9) + 8 * rng.Normal();
                byte g = (byte)Math.Clamp(v, 0, 70);
                image.SetPixel(x, y, new SKColor(g, g, (byte)Math.Min(255, g + 6)));
            }
    }

    static SKPath ObjectPath(ShapeObject obj, int resolution, KitRandom rng)
    {
        float cell = resolution / 3f;
        float extent = cell * (obj.Size == ShapeSize.Large ? 0.84f : 0.6f);
        float slack = (cell - extent) / 2 * 0.8f; // jitter keeps the object inside its cell: objects never overlap
        float cx = (obj.Column + 0.5f) * cell + (float)rng.Uniform(-slack, slack);
        float cy = (obj.Row + 0.5f) * cell + (float)rng.Uniform(-slack, slack);
        float h = extent / 2;
        var path = new SKPath { FillType = SKPathFillType.Winding };
        switch (obj.Shape)
        {
            case ShapeKind.Circle:
                path.AddCircle(cx, cy, h);
                break;
            case ShapeKind.Square:
                path.AddRect(new SKRect(cx - h * 0.85f, cy - h * 0.85f, cx + h * 0.85f, cy + h * 0.85f));
                break;
            case ShapeKind.Triangle:
                path.MoveTo(cx, cy - h);
                path.LineTo(cx + h, cy + h * 0.8f);
                path.LineTo(cx - h, cy + h * 0.8f);
                path.Close();
                break;
            case ShapeKind.Star:
                for (int i = 0; i < 10; i++)
                {
                    double angle = -Math.PI / 2 + i * Math.PI / 5;
                    float r = i % 2 == 0 ? h : h * 0.48f;
                    float x = cx + r * (float)Math.Cos(angle), y = cy + r * (float)Math.Sin(angle);
                    if (i == 0) path.MoveTo(x, y); else path.LineTo(x, y);
                }
                path.Close();
                break;
            case ShapeKind.Cross:
                float arm = h * 0.42f;
                path.AddRect(new SKRect(cx - h, cy - arm, cx + h, cy + arm));
                path.AddRect(new SKRect(cx - arm, cy - h, cx + arm, cy + h));
                break;
        }
        return path;
    }
}
