// A frozen visual backbone seen as a grid of patch features, the one thing LaVIT's tokenizer (over EVA-CLIP in the
// paper) and LexVLA's image encoder (over DINOv2) read. The kit's backbone is its own small ViT, pretrained without
// labels; it is never the probe that judges generated images, so no score is computed by the network it trained on.
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
