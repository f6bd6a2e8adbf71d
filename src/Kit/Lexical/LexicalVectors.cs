// LexVLA's lexical representation: a non-negative score for every word of one vocabulary. Scores come from
// features · codebookᵀ through ELU1p (elu(x) + 1, positive everywhere, so "how much this sample is about the word" is a
// magnitude with no sign), an image's patches are max-pooled (a word is present when some patch shows it), the vector
// is l2-normalised (retrieval is a dot product), and at inference only entries at least 1/√V survive — the entry of a
// vector spread evenly over all V words, so what is kept is exactly what stands out from uniform.
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Lexical;

/// <summary>The operations that turn scores into sparse lexical vectors.</summary>
public static class LexicalVectors
{
    /// <summary>elu(x) + 1: positive, x + 1 for x ≥ 0, eˣ for x &lt; 0.</summary>
    public static Tensor Elu1p(Tensor x) => F.elu(x, alpha: 1.0) + 1;

    /// <summary>Patch vectors [B, N, V] → one per image [B, V], each entry its largest over the patches.</summary>
    public static Tensor MaxPool(Tensor patches)
    {
        if (patches.dim() != 3) throw new ArgumentException($"patches must be [B, N, V]; got [{string.Join(", ", patches.shape)}].",
            nameof(patches));
        return patches.amax(new long[] { 1 });
    }

    /// <summary>Each vector divided by its l2 norm (last dimension).</summary>
    public static Tensor Normalise(Tensor x) => F.normalize(x, p: 2, dim: -1);

    /// <summary>The cut of the kit's inference: 1/√V, the entry every word would have in a normalised uniform vector.</summary>
    public static double Threshold(long vocabulary) => 1.0 / Math.Sqrt(vocabulary);

    /// <summary>Normalised vectors [.., V] with every entry below 1/√V set to 0.</summary>
    public static Tensor Sparsify(Tensor normalised)
    {
        var cut = Threshold(normalised.shape[^1]);
        // A relative slack: an exactly uniform vector's entries are 1/√V up to rounding, and must all stay.
        return normalised.where(normalised.ge(cut * (1 - 1e-6)), zeros_like(normalised));
    }

    /// <summary>Vectors [.., V] with all but their <paramref name="k"/> largest entries set to 0 (LexVLA's fixed budget).</summary>
    public static Tensor TopK(Tensor x, int k)
    {
        if (k < 1 || k > x.shape[^1]) throw new ArgumentOutOfRangeException(nameof(k), k, $"expected 1…{x.shape[^1]} (the vocabulary).");
        var (_, index) = x.topk(k, dim: -1);
        return zeros_like(x).scatter(-1, index, x.gather(-1, index));
    }

    /// <summary>Active (non-zero) entries of each vector [.., V] → [..] as float.</summary>
    public static Tensor ActiveCount(Tensor x) => x.ne(0).to(float32).sum(-1);
}
