// The sparsity terms of LexVLA's training, over a batch of lexical vectors s [B, V] (non-negative).
// FLOPs (SPLADE's): Σ_j ā_j², ā_j = mean_i s_ij — low average activation, but it costs the same whether an entry's mass
// sits in one sample or is spread over all of them, so a model may switch on a few meaningless words for everything.
// Overuse (LexVLA's idea; its formula is not public, this one is the kit's): each entry's FLOPs term multiplied by the
// share of the batch that holds its mass, its participation u_j = ā_j² / mean_i s_ij² — 1/B for an entry one sample
// uses, 1 for one every sample uses equally. An entry active everywhere costs what FLOPs charges; one a single sample
// uses costs B times less, so the term falls on the shortcut (the same words switched on for everything) and spares
// the words that tell samples apart. Never more than FLOPs, so one weight compares the two fairly.
using static TorchSharp.torch;

namespace Kit.Lexical;

/// <summary>Which sparsity term trains the lexical encoders.</summary>
public enum SparsityKind
{
    /// <summary>Σ_j (mean_i s_ij)².</summary>
    Flops,
    /// <summary>Σ_j (mean_i s_ij)² · u_j, u_j the share of samples holding entry j's mass.</summary>
    Overuse,
}

/// <summary>The two sparsity terms.</summary>
public static class SparsityPenalty
{
    /// <summary>Σ_j (mean_i s_ij)² over a batch [B, V].</summary>
    public static Tensor Flops(Tensor s)
    {
        Check(s);
        return s.mean(new long[] { 0 }).square().sum();
    }

    /// <summary>The share of the batch's samples that hold each entry's mass: ā_j² / mean_i s_ij², in [1/B, 1] ([V]; 0 for an unused
    /// entry).</summary>
    public static Tensor Participation(Tensor s)
    {
        Check(s);
        var mean = s.mean(new long[] { 0 });
        var meanSquare = s.square().mean(new long[] { 0 });
        return mean.square() / (meanSquare + 1e-12);
    }

    /// <summary>Σ_j ā_j² · u_j over a batch [B, V] (<see cref="Participation"/>).</summary>
    public static Tensor Overuse(Tensor s) => (s.mean(new long[] { 0 }).square() * Participation(s)).sum();

    /// <summary>The term of <paramref name="kind"/>.</summary>
    public static Tensor Of(SparsityKind kind, Tensor s) => kind == SparsityKind.Flops ? Flops(s) : Overuse(s);

    static void Check(Tensor s)
    {
        if (s.dim() != 2) throw new ArgumentException($"lexical vectors must be [B, V]; got [{string.Join(", ", s.shape)}].", nameof(s));
    }
}
