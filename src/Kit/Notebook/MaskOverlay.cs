// Class masks made visible: each class gets a fixed colour blended over the image, background untouched.
namespace Kit.Notebook;

/// <summary>Blends class masks over images for display.</summary>
public static class MaskOverlay
{
    static readonly (byte R, byte G, byte B)[] Palette =
    {
        (0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
        (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    };

    /// <summary>The display colour of mask class <paramref name="classId"/> (0 = background, not drawn).</summary>
    public static (byte R, byte G, byte B) ColourOf(int classId) => Palette[classId % Palette.Length];

    /// <summary>The mask alone: each class in its colour on black (RGB bytes, H×W×3).</summary>
    public static byte[] Render(byte[] mask) => Blend(new byte[mask.Length * 3], mask, opacity: 1.0);

    /// <summary>
    /// Returns RGB bytes (H×W×3) where every pixel of a non-zero class is mixed
    /// <paramref name="opacity"/> : (1 − opacity) with its class colour.
    /// </summary>
    public static byte[] Blend(byte[] rgb, byte[] mask, double opacity = 0.6)
    {
        if (rgb.Length != mask.Length * 3) throw new ArgumentException($"rgb has {rgb.Length} bytes for a {mask.Length}-pixel mask; " +
            $"expected 3 per pixel.", nameof(rgb));
        if (opacity < 0 || opacity > 1) throw new ArgumentOutOfRangeException(nameof(opacity), opacity, "expected 0–1");
        var result = (byte[])rgb.Clone();
        for (int p = 0; p < mask.Length; p++)
        {
            if (mask[p] == 0) continue;
            var (r, g, b) = ColourOf(mask[p]);
            result[p * 3] = (byte)Math.Round(opacity * r + (1 - opacity) * rgb[p * 3]);
            result[p * 3 + 1] = (byte)Math.Round(opacity * g + (1 - opacity) * rgb[p * 3 + 1]);
            result[p * 3 + 2] = (byte)Math.Round(opacity * b + (1 - opacity) * rgb[p * 3 + 2]);
        }
        return result;
    }
}
