// What a tokenizer's training and its scores read of the frozen judge: patch features (VQGAN's perceptual loss) and one
// pooled vector per image (the Fréchet distance of reconstructions). The kit's probe is one; any frozen network can be.
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>A frozen feature extractor over images [B, C, H, W] in [−1, 1].</summary>
public interface IImageFeatures
{
    /// <summary>Patch features [B, C', h, w] (the perceptual loss compares them).</summary>
    Tensor PatchFeatures(Tensor images);

    /// <summary>One feature vector per image [B, F] (the Fréchet distance compares their statistics).</summary>
    Tensor Features(Tensor images);
}
