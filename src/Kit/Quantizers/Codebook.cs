// The codebook as its own component, as vector-quantize-pytorch splits it: the table a VectorQuantizer looks codes up
// in, and how that table learns. Three kinds: GradientCodebook (the codes are parameters, moved by the codebook loss),
// EmaCodebook (moving averages of the features each code wins, VQ-VAE-2) and ExternalCodebook (rows of a table the
// quantizer does not own — UniCode's codebook is the language model's word embeddings). A quantizer only ever passes
// the positions it really quantizes (a mask leaves the others out), so statistics never see a dropped token.
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Quantizers;

/// <summary>The table of codes a vector quantizer looks up, and how it learns.</summary>
public abstract class Codebook : nn.Module
{
    protected Codebook(string name, long size, int dim) : base(name)
    {
        if (size < 2) throw new ArgumentOutOfRangeException(nameof(size), size, "expected at least 2 codes");
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "expected a positive code dimension");
        Size = size; Dim = dim;
    }

    /// <summary>Number of codes K.</summary>
    public long Size { get; }
    /// <summary>Width c of each code (the quantizer's lookup dimension).</summary>
    public int Dim { get; }

    /// <summary>The codes [K, c] as they stand now (gradients reach them when <see cref="LearnsByGradient"/>).</summary>
    public abstract Tensor Codes();

    /// <summary>True when the quantizer's codebook loss ‖e − sg(z)‖² is what trains the codes.</summary>
    public abstract bool LearnsByGradient { get; }

    /// <summary>True when the quantizer may write the codes (k-means initialisation, dead-code restarts).</summary>
    public abstract bool Writable { get; }

    /// <summary>
    /// A training batch: <paramref name="z"/> [M, c] (in the lookup space; only positions that were quantized) and the
    /// codes they took. EMA codebooks move their codes here; every writable codebook counts use, for dead-code restarts.
    /// </summary>
    public virtual void Observe(Tensor z, Tensor indices) { }

    /// <summary>Replaces the codes whose moving use fell below <paramref name="threshold"/> by rows of <paramref name="z"/>.</summary>
    public virtual void RestartDead(Tensor z, double threshold) =>
        throw new InvalidOperationException($"{GetType().Name} cannot restart codes: its table is not the quantizer's to write.");

    /// <summary>Sets every code from <paramref name="centroids"/> [K, c] (k-means initialisation) and marks the codebook
    /// initialised.</summary>
    public virtual void Initialise(Tensor centroids) =>
        throw new InvalidOperationException($"{GetType().Name} cannot be initialised by k-means: its table is not the quantizer's to " +
            $"write.");

    /// <summary>False until k-means has initialised a codebook that asked for it (always true otherwise).</summary>
    public virtual bool Initialised => true;
}

/// <summary>Shared state of the codebooks the quantizer writes: the codes, the moving use per code, the initialised flag.</summary>
public abstract class OwnedCodebook : Codebook
{
    protected readonly Tensor cluster_size;   // [K] EMA of assignments per code (drives dead-code restarts)
    protected readonly Tensor initted;        // scalar flag: k-means initialisation done
    bool? _initialised;

    /// <param name="init">The initial codes [K, c].</param>
    /// <param name="decay">EMA decay γ of the use counts (and, for an EMA codebook, of the codes).</param>
    /// <param name="needsInit">True when k-means must initialise the codes before the first training batch.</param>
    protected OwnedCodebook(string name, Tensor init, double decay, bool needsInit) : base(name, init.shape[0], (int)init.shape[1])
    {
        if (decay <= 0 || decay >= 1) throw new ArgumentOutOfRangeException(nameof(decay), decay, "expected 0 < decay < 1");
        Decay = decay;
        cluster_size = ones(init.shape[0]);
        initted = tensor(needsInit ? 0f : 1f);
    }

    /// <summary>EMA decay γ.</summary>
    public double Decay { get; }
    public override bool Writable => true;

    /// <summary>The codes as stored (the quantizer normalises them for cosine lookups).</summary>
    protected abstract Tensor Stored { get; }

    public override bool Initialised => _initialised ??= initted.item<float>() != 0; // one sync, once

    public override void Observe(Tensor z, Tensor indices)
    {
        using var noGrad = no_grad();
        var counts = bincount(indices, minlength: Size).to(z.dtype);
        cluster_size.mul_(Decay).add_(counts, alpha: 1 - Decay);
    }

    public override void RestartDead(Tensor z, double threshold)
    {
        using var noGrad = no_grad();
        var dead = cluster_size.lt(threshold).nonzero().reshape(-1);
        long count = dead.shape[0];
        if (count == 0 || z.shape[0] == 0) return;
        var pick = randint(z.shape[0], new[] { count }, device: z.device);
        var replacement = z.index_select(0, pick);
        Stored.index_copy_(0, dead, replacement);
        cluster_size.index_fill_(0, dead, threshold);
        OnRestarted(dead, replacement * threshold);
    }

    /// <summary>What a restart resets beyond the codes and their use (the EMA sums).</summary>
    protected virtual void OnRestarted(Tensor dead, Tensor sums) { }

    public override void Initialise(Tensor centroids)
    {
        using var noGrad = no_grad();
        Stored.copy_(centroids);
        cluster_size.fill_(1);
        OnInitialised(centroids);
        initted.fill_(1);
        _initialised = true;
    }

    /// <summary>What k-means initialisation sets beyond the codes and their use (the EMA sums).</summary>
    protected virtual void OnInitialised(Tensor centroids) { }
}

/// <summary>Codes learned by gradient of the codebook loss (VQ-VAE).</summary>
public sealed class GradientCodebook : OwnedCodebook
{
    readonly Tensor embed;

    /// <param name="init">The initial codes [K, c] (copied).</param>
    /// <param name="decay">EMA decay of the use counts (dead-code restarts).</param>
    /// <param name="needsInit">k-means initialisation before the first training batch.</param>
    public GradientCodebook(Tensor init, double decay = 0.99, bool needsInit = false) : base(nameof(GradientCodebook), init, decay,
        needsInit)
    {
        embed = nn.Parameter(init.clone()); // nn.Parameter takes over the handle of the tensor it wraps, so it gets a copy
        register_buffer(nameof(cluster_size), cluster_size);
        register_buffer(nameof(initted), initted);
        RegisterComponents();
    }

    protected override Tensor Stored => embed;
    public override Tensor Codes() => embed;
    public override bool LearnsByGradient => true;
}

/// <summary>Codes that are moving averages of the features assigned to them, with Laplace smoothing (VQ-VAE-2).</summary>
public sealed class EmaCodebook : OwnedCodebook
{
    readonly Tensor embed;          // [K, c]
    readonly Tensor embed_sum;      // [K, c] EMA of the features assigned to each code

    /// <param name="init">The initial codes [K, c] (taken over).</param>
    /// <param name="decay">EMA decay γ (0.8–0.99).</param>
    /// <param name="epsilon">Laplace smoothing of the cluster sizes.</param>
    /// <param name="normalise">Keep the codes on the unit sphere (cosine lookups).</param>
    /// <param name="needsInit">k-means initialisation before the first training batch.</param>
    public EmaCodebook(Tensor init, double decay = 0.99, double epsilon = 1e-5, bool normalise = false, bool needsInit = false)
        : base(nameof(EmaCodebook), init, decay, needsInit)
    {
        Epsilon = epsilon; Normalise = normalise;
        embed = init;
        embed_sum = init.clone();
        register_buffer(nameof(embed), embed);
        register_buffer(nameof(cluster_size), cluster_size);
        register_buffer(nameof(embed_sum), embed_sum);
        register_buffer(nameof(initted), initted);
        RegisterComponents();
    }

    /// <summary>Laplace smoothing of the cluster sizes.</summary>
    public double Epsilon { get; }
    /// <summary>True when the codes are kept l2-normalised.</summary>
    public bool Normalise { get; }

    protected override Tensor Stored => embed;
    public override Tensor Codes() => embed;
    public override bool LearnsByGradient => false;

    public override void Observe(Tensor z, Tensor indices)
    {
        base.Observe(z, indices);
        using var noGrad = no_grad();
        var sums = zeros_like(embed_sum).index_add_(0, indices, z, 1);
        embed_sum.mul_(Decay).add_(sums, alpha: 1 - Decay);
        // Laplace smoothing keeps an unused code's size above zero, so its division is defined.
        var n = cluster_size.sum();
        var smoothed = (cluster_size + Epsilon) / (n + Size * Epsilon) * n;
        var updated = embed_sum / smoothed.unsqueeze(1);
        embed.copy_(Normalise ? F.normalize(updated, dim: 1) : updated);
    }

    protected override void OnRestarted(Tensor dead, Tensor sums) => embed_sum.index_copy_(0, dead, sums);
    protected override void OnInitialised(Tensor centroids) => embed_sum.copy_(centroids);
}

/// <summary>
/// Rows of a table the codebook does not own, read through a delegate each time (the same trick the GPT's tied output head
/// uses), so the codes are always the table's current rows: UniCode's codebook is the language model's word embeddings.
/// Frozen, the table gets no gradient from the quantizer; trainable, the codebook loss reaches it (whoever owns the table
/// decides whether an optimiser steps it). An optional projection maps the table's width to the quantizer's code width.
/// The quantizer never writes the table: no k-means, no dead-code restarts.
/// </summary>
public sealed class ExternalCodebook : Codebook
{
    readonly Func<Tensor> _table;
    readonly TorchSharp.Modules.Linear? project;

    /// <param name="table">The table [K, width] (e.g. <c>() => gpt.TokenEmbeddings.narrow(0, 0, K)</c>).</param>
    /// <param name="trainable">Let the codebook loss's gradient reach the table.</param>
    /// <param name="codeDim">Project the table's width to this code width with a learned linear map (null: use the rows as they
    /// are).</param>
    public ExternalCodebook(Func<Tensor> table, bool trainable = false, int? codeDim = null)
        : base(nameof(ExternalCodebook), TableShape(table, "an external codebook table", nameof(table), out int width), codeDim ?? width)
    {
        _table = table;
        Trainable = trainable;
        TableWidth = width;
        if (codeDim is int c) project = nn.Linear(width, c, hasBias: false);
        RegisterComponents();
    }

    /// <summary>K, the rows of the [K, width] table <paramref name="table"/> reads, and its width; a table of another rank is refused by
    /// name.</summary>
    internal static long TableShape(Func<Tensor> table, string what, string parameter, out int width)
    {
        var t = table();
        if (t.dim() != 2) throw new ArgumentException($"{what} must be [K, width]; got [{string.Join(", ", t.shape)}].", parameter);
        width = (int)t.shape[1];
        return t.shape[0];
    }

    /// <summary>True when gradients reach the table.</summary>
    public bool Trainable { get; }
    /// <summary>Width of the table's rows.</summary>
    public int TableWidth { get; }

    public override Tensor Codes()
    {
        var rows = Trainable ? _table() : _table().detach();
        return project is null ? rows : project.call(rows);
    }

    public override bool LearnsByGradient => Trainable || project is not null;
    public override bool Writable => false;
}
