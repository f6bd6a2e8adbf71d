// The contrastive loss that aligns images with their captions (CLIP's, LexVLA's): in a batch of B pairs, each image
// must pick its own caption among the B, and each caption its image — cross-entropy over the similarity rows and
// columns, divided by a temperature, the two directions averaged.
using Kit.Core;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Lexical;

/// <summary>Symmetric InfoNCE.</summary>
public static class InfoNce
{
    /// <summary>
    /// ½ (CE(image → text) + CE(text → image)) of the similarities a·bᵀ / <paramref name="temperature"/>; pair i is
    /// (a_i, b_i). The inputs are used as given (normalise them first for a cosine similarity).
    /// </summary>
    public static Tensor Loss(Tensor a, Tensor b, double temperature)
    {
        if (a.dim() != 2 || b.dim() != 2 || a.shape[0] != b.shape[0] || a.shape[1] != b.shape[1])
            throw new ArgumentException($"expected two [B, D] batches of the same shape; got [{string.Join(", ", a.shape)}] and " +
                $"[{string.Join(", ", b.shape)}].", nameof(b));
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "expected > 0.");
        var logits = a.MatmulChecked(b.t()) / temperature;
        var targets = arange(a.shape[0], dtype: int64, device: a.device);
        return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2;
    }
}
