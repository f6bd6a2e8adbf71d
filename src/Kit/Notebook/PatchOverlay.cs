// Which patches a token selector kept, made visible: the image upscaled, each kept patch outlined, each dropped patch
// dimmed; and the scene's class masks drawn the same way, so the outlines can be checked against the objects.
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Notebook;

/// <summary>Images with a patch mask drawn over them.</summary>
public static class PatchOverlay
{
    /// <summary>
    /// Images [B, C, H, W] (values in [−1, 1]) upscaled ×<paramref name="upscale"/>, with the patches of <paramref name="keep"/>
    /// [B, N] (raster order over a <paramref name="grid"/> × <paramref name="grid"/> grid) outlined in yellow and the others
    /// dimmed to a third: [B, 3, H·u, W·u].
    /// </summary>
    public static Tensor Outline(Tensor images, Tensor keep, int grid, int upscale = 4)
    {
        if (images.dim() != 4) throw new ArgumentException($"images must be [B, C, H, W]; got [{string.Join(", ", images.shape)}].",
            nameof(images));
        long b = images.shape[0], h = images.shape[2], w = images.shape[3];
        if (keep.dim() != 2 || keep.shape[0] != b || keep.shape[1] != (long)grid * grid)
            throw new ArgumentException($"keep is [{string.Join(", ", keep.shape)}]; expected [{b}, {grid * grid}] for a {grid}×{grid} " +
                $"grid.", nameof(keep));
        if (h % grid != 0 || w % grid != 0) throw new ArgumentException($"a {h}×{w} image does not split into a {grid}×{grid} grid.",
            nameof(grid));
        if (upscale < 1) throw new ArgumentOutOfRangeException(nameof(upscale), upscale, "expected an upscale factor of 1 or more");
        using var noGrad = no_grad();
        var rgb = images.shape[1] == 1 ? images.expand(b, 3, h, w) : images;
        long H = h * upscale, W = w * upscale, ph = H / grid, pw = W / grid;
        var big = rgb.detach().cpu().to(float32).repeat_interleave(upscale, 2).repeat_interleave(upscale, 3);     // [B, 3, H, W]
        // Per pixel: the patch it belongs to, kept or not, and whether it lies on that patch's border.
        var kept = keep.detach().cpu().gt(0.5).reshape(b, 1, grid, grid).to(float32)
            .repeat_interleave(ph, 2).repeat_interleave(pw, 3);                                                    // [B, 1, H, W]
        var rows = arange(H).remainder(ph); var cols = arange(W).remainder(pw);
        // [H, W]
        var border = rows.eq(0).logical_or(rows.eq(ph - 1)).unsqueeze(1).logical_or(cols.eq(0).logical_or(cols.eq(pw - 1)).unsqueeze(0))
            .to(float32);
        // a third of the brightness, in [−1, 1]
        var dimmed = (big + 1) / 3 - 1;
        var yellow = tensor(new float[] { 1, 1, -1 }).reshape(1, 3, 1, 1);
        var outline = kept * border;
        return (dimmed * (1 - kept) + big * kept) * (1 - outline) + yellow * outline;
    }

    /// <summary>Class masks [B, H, W] (0 = background) as images [B, 3, H, W] in [−1, 1], each class in its overlay colour.</summary>
    public static Tensor MaskImages(Tensor masks)
    {
        long b = masks.shape[0], h = masks.shape[1], w = masks.shape[2];
        var classes = masks.cpu().to(uint8).data<byte>().ToArray();
        int plane = (int)(h * w);
        var rgb = new List<byte[]>();
        for (int i = 0; i < b; i++) rgb.Add(MaskOverlay.Render(classes.AsSpan(i * plane, plane).ToArray()));
        return Kit.Data.ImageBatch.ToTensor(rgb, 3, (int)h, (int)w);
    }
}
