// Zero-shot classification, CLIP's way and LexVLA's: each image is given the class whose prompt ("a picture of a coat")
// its vector is closest to; no image of these classes was trained on.
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>Accuracy of nearest-prompt classification.</summary>
public static class ZeroShotClassification
{
    /// <summary>
    /// The share of <paramref name="features"/> [N, ...] whose <paramref name="encodeImages"/> vector is closest (dot product) to the
    /// row of <paramref name="classVectors"/> [C, D] of its <paramref name="labels"/> [N]; images are encoded 256 at a time.
    /// </summary>
    public static double Accuracy(Func<Tensor, Tensor> encodeImages, Tensor classVectors, Tensor features, Tensor labels)
    {
        if (labels.shape[0] != features.shape[0])
            throw new ArgumentException($"{labels.shape[0]} labels for {features.shape[0]} images.", nameof(labels));
        var predicted = Scopes.InChunks(features.shape[0], 256, (start, n) => encodeImages(features.narrow(0, start,
            n)).MatmulChecked(classVectors.t()).argmax(-1));
        return predicted.eq(labels.to(predicted.device)).to(float32).mean().item<float>();
    }
}
