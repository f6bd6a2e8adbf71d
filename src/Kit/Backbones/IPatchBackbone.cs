// A frozen visual backbone seen as a grid of patch features, the one thing LaVIT's tokenizer (over EVA-CLIP in the
// paper) and LexVLA's image encoder (over DINOv2) read. The kit's backbone is its own small ViT, pretrained without
// labels; it is never the probe that judges generated images, so no score is computed by the network it trained on.
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Backbones;

/// <summary>Images in, one feature vector per patch out.</summary>
public interface IPatchBackbone
{
    /// <summary>Patch features [B, N, Dim] of images [B, C, H, W] (values in [−1, 1]), patches in raster order.</summary>
    Tensor PatchFeatures(Tensor images);

    /// <summary>Patch rows h of the grid (N = h · w).</summary>
    int GridHeight { get; }

    /// <summary>Patch columns w of the grid.</summary>
    int GridWidth { get; }

    /// <summary>Width of each patch feature.</summary>
    int Dim { get; }

    /// <summary>The image side the backbone takes.</summary>
    int ImageSize { get; }
}

/// <summary>What every reader of a backbone needs of it.</summary>
public static class PatchBackbones
{
    /// <summary>The frozen backbone's features of many images [N, P, C], 256 at a time, no gradient, on
    /// <paramref name="device"/>.</summary>
    public static Tensor FeaturesOf(this IPatchBackbone backbone, Tensor images, Device device)
    {
        using var noGrad = no_grad();
        return Scopes.InChunks(images.shape[0], 256, (start, n) => backbone.PatchFeatures(images.narrow(0, start, n).to(device)))
            .to(device);
    }
}
