// Vector quantization (VQ-VAE, van den Oord et al. 2017; EMA codebooks, VQ-VAE-2; cosine and
// low-dimensional lookups, ViT-VQGAN / LlamaGen; rotation trick, Fifty et al. 2024): each feature takes the
// nearest of K learned codes.
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Quantizers;

/// <summary>How distances to codes are measured.</summary>
public enum CodeDistance { L2, Cosine }

/// <summary>How the codebook learns: by gradient of the codebook loss, or by exponential moving averages.</summary>
public enum CodebookUpdate { Gradient, Ema }

/// <summary>How gradients pass the non-differentiable lookup.</summary>
public enum GradientEstimator { StraightThrough, Rotation }

/// <summary>Nearest-code vector quantizer with every remedy against codebook collapse as an option.</summary>
public sealed class VectorQuantizer : Quantizer
{
    readonly nn.Module<Tensor, Tensor>? project_in, project_out;
    readonly Codebook codebook;

    /// <param name="dim">Feature dimension D.</param>
    /// <param name="codebookSize">Number of codes K.</param>
    /// <param name="codeDim">Lookup dimension c; smaller than D adds in/out projections (ViT-VQGAN's 32-d, LlamaGen's 8-d codes).</param>
    /// <param name="distance">L2, or cosine (features and codes l2-normalised).</param>
    /// <param name="update">Codebook learned by gradient or by EMA.</param>
    /// <param name="decay">EMA decay γ (0.8–0.99).</param>
    /// <param name="epsilon">Laplace smoothing of the EMA cluster sizes.</param>
    /// <param name="commitmentWeight">β in β‖z − sg(e)‖² (the encoder commits to its code; VQ-VAE uses 0.25).</param>
    /// <param name="kmeansInit">Initialise the codebook by k-means on the first training batch.</param>
    /// <param name="kmeansIterations">Lloyd iterations of that initialisation.</param>
    /// <param name="deadCodeThreshold">Codes whose EMA cluster size falls below this are replaced by batch features (0 = off; ≈2
    /// typical).</param>
    /// <param name="estimator">Straight-through, or the rotation trick.</param>
    /// <param name="orthogonalWeight">Weight of the orthogonality penalty on the (normalised) codebook (0 = off).</param>
    public VectorQuantizer(int dim, int codebookSize, int? codeDim = null, CodeDistance distance = CodeDistance.L2,
        CodebookUpdate update = CodebookUpdate.Ema, double decay = 0.99, double epsilon = 1e-5, double commitmentWeight = 0.25,
        bool kmeansInit = false, int kmeansIterations = 10, double deadCodeThreshold = 0,
            GradientEstimator estimator = GradientEstimator.StraightThrough,
        double orthogonalWeight = 0)
        : this(dim, c => OwnCodebook(codebookSize, c, distance, update, decay, epsilon, kmeansInit), codeDim, external: false, distance,
            commitmentWeight,
            kmeansInit, kmeansIterations, deadCodeThreshold, estimator, orthogonalWeight, codebookSize)
    { }

    /// <summary>A vector quantizer over a given codebook (its codes' width is the lookup dimension).</summary>
    /// <param name="dim">Feature dimension D; a projection to the codebook's width is added when they differ.</param>
    /// <param name="codebook">The table of codes, e.g. an <see cref="ExternalCodebook"/> over a language model's embeddings.</param>
    /// <param name="distance">L2, or cosine (features and codes l2-normalised).</param>
    /// <param name="commitmentWeight">β in β‖z − sg(e)‖².</param>
    /// <param name="kmeansInit">Initialise the (writable) codebook by k-means on the first training batch.</param>
    /// <param name="kmeansIterations">Lloyd iterations of that initialisation.</param>
    /// <param name="deadCodeThreshold">Restart codes of a writable codebook whose moving use falls below this (0 = off).</param>
    /// <param name="estimator">Straight-through, or the rotation trick.</param>
    /// <param name="orthogonalWeight">Weight of the orthogonality penalty on the (normalised) codebook (0 = off).</param>
    public VectorQuantizer(int dim, Codebook codebook, CodeDistance distance = CodeDistance.L2, double commitmentWeight = 0.25,
        bool kmeansInit = false, int kmeansIterations = 10, double deadCodeThreshold = 0,
            GradientEstimator estimator = GradientEstimator.StraightThrough,
        double orthogonalWeight = 0)
        : this(dim, _ => codebook, codebook.Dim, external: true, distance, commitmentWeight, kmeansInit, kmeansIterations,
            deadCodeThreshold, estimator, orthogonalWeight, codebook.Size)
    { }

    // external: the codebook was built by the caller, so its width may exceed the features' (projections map between them).
    VectorQuantizer(int dim, Func<int, Codebook> makeCodebook, int? codeDim, bool external, CodeDistance distance, double commitmentWeight,
        bool kmeansInit, int kmeansIterations, double deadCodeThreshold, GradientEstimator estimator, double orthogonalWeight,
            long codebookSize)
        : base(nameof(VectorQuantizer), dim, codebookSize)
    {
        int c = codeDim ?? dim;
        if (c <= 0 || (c > dim && !external)) throw new ArgumentOutOfRangeException(nameof(codeDim), codeDim,
            $"expected 1..{dim} (the feature dimension)");
        if (commitmentWeight < 0) throw new ArgumentOutOfRangeException(nameof(commitmentWeight), commitmentWeight, "expected ≥ 0");
        Distance = distance; CommitmentWeight = commitmentWeight;
        KmeansInit = kmeansInit; KmeansIterations = kmeansIterations; DeadCodeThreshold = deadCodeThreshold; Estimator = estimator;
        OrthogonalWeight = orthogonalWeight;
        if (c != dim) { project_in = nn.Linear(dim, c); project_out = nn.Linear(c, dim); }
        codebook = makeCodebook(c);
        if (codebook.Dim != c) throw new ArgumentException($"the codebook's codes are {codebook.Dim} wide but the lookup is {c} wide.",
            nameof(codeDim));
        if (!codebook.Writable && (kmeansInit || deadCodeThreshold > 0))
            throw new ArgumentException($"kmeansInit={kmeansInit}, deadCodeThreshold={deadCodeThreshold}: a " +
                $"{codebook.GetType().Name}'s table is not the quantizer's to write; use neither.", nameof(kmeansInit));
        RegisterComponents();
    }

    // The codes of the quantizer's own codebook: N(0, 1) rows (on the unit sphere for cosine lookups), learned by gradient or EMA.
    static Codebook OwnCodebook(int size, int c, CodeDistance distance, CodebookUpdate update, double decay, double epsilon,
        bool kmeansInit)
    {
        var init = randn(size, c);
        if (distance == CodeDistance.Cosine) init = F.normalize(init, dim: 1);
        return update == CodebookUpdate.Gradient
            ? new GradientCodebook(init, decay, needsInit: kmeansInit)
            : new EmaCodebook(init, decay, epsilon, normalise: distance == CodeDistance.Cosine, needsInit: kmeansInit);
    }

    /// <summary>The codebook component (the table and how it learns).</summary>
    public override Codebook Codebook => codebook;
    /// <summary>Lookup dimension c.</summary>
    public int CodeDim => codebook.Dim;
    public CodeDistance Distance { get; }
    /// <summary>How the codebook learns: by gradient (a gradient or trainable external codebook) or by EMA.</summary>
    public CodebookUpdate Update => codebook.LearnsByGradient ? CodebookUpdate.Gradient : CodebookUpdate.Ema;
    /// <summary>β; settable so a schedule can anneal it.</summary>
    public double CommitmentWeight { get; set; }
    public bool KmeansInit { get; }
    public int KmeansIterations { get; }
    public double DeadCodeThreshold { get; }
    public GradientEstimator Estimator { get; }
    public double OrthogonalWeight { get; set; }
    /// <summary>Training batches that were not used to update the codebook because their features were not finite.</summary>
    public int SkippedBatches { get; private set; }

    /// <summary>The codes as used for lookup ([K, c], normalised for cosine distance).</summary>
    public Tensor Codes => Distance == CodeDistance.Cosine ? F.normalize(codebook.Codes(), dim: 1) : codebook.Codes();

    /// <summary>Index of the nearest code for each row of <paramref name="z"/> [M, c] (in the lookup space).</summary>
    public Tensor Nearest(Tensor z) => NearestCode(Distance == CodeDistance.Cosine ? F.normalize(z, dim: 1) : z, Codes.detach(),
        Distance == CodeDistance.Cosine);

    /// <summary>
    /// Index of the nearest row of <paramref name="codes"/> for each row of <paramref name="x"/>: largest dot product
    /// for (already normalised) cosine codes, else smallest ‖x − e‖² = ‖x‖² − 2 x·e + ‖e‖² (‖x‖² is the same for every
    /// code, so it is left out).
    /// </summary>
    static Tensor NearestCode(Tensor x, Tensor codes, bool cosine) =>
        cosine ? x.MatmulChecked(codes.t()).argmax(1) : (codes.pow(2).sum(1).unsqueeze(0) - 2 * x.MatmulChecked(codes.t())).argmin(1);

    protected override FlatQuantization QuantizeFlat(Tensor features)
    {
        var z = project_in is null ? features : project_in.call(features);
        if (Distance == CodeDistance.Cosine) z = F.normalize(z, dim: 1);
        // A batch with a NaN or ∞ in it never writes the codebook: one EMA update, restart or k-means from it would leave
        // non-finite codes for good (every later mean over them stays NaN). One sync per training step, only for codebooks
        // the quantizer writes; the batch is still quantized (and its loss, NaN, stops a Trainer).
        bool writes = training && codebook.Writable;
        if (writes && !z.detach().isfinite().all().item<bool>())
        {
            writes = false;
            if (SkippedBatches++ == 0)
                Console.Error.WriteLine($"kit: {GetType().Name}: a training batch with non-finite features (NaN or ∞) was not used to " +
                    $"update the codebook; its codes and use counts are unchanged.");
        }
        if (writes && KmeansInit && !codebook.Initialised)
            using (no_grad()) codebook.Initialise(Kmeans(z.detach(), (int)CodebookSize, KmeansIterations, Distance == CodeDistance.Cosine));
        var codes = Codes; // normalised once per step for cosine codes
        var indices = NearestCode(z.detach(), codes.detach(), Distance == CodeDistance.Cosine);
        var chosen = codes.index_select(0, indices);
        var parts = new Dictionary<string, Tensor>();

        var commitment = F.mse_loss(z, chosen.detach());
        var aux = commitment * CommitmentWeight;
        parts["commitment"] = commitment.detach();
        if (codebook.LearnsByGradient)
        {
            var codebookLoss = F.mse_loss(chosen, z.detach()); // moves the codes; β belongs on the other term
            aux = aux + codebookLoss;
            parts["codebook"] = codebookLoss.detach();
        }
        if (OrthogonalWeight > 0)
        {
            var orthogonal = OrthogonalPenalty();
            aux = aux + orthogonal * OrthogonalWeight;
            parts["orthogonal"] = orthogonal.detach();
        }
        if (writes)
        {
            codebook.Observe(z.detach(), indices);
            if (DeadCodeThreshold > 0) codebook.RestartDead(z.detach(), DeadCodeThreshold);
        }

        var quantized = Estimator == GradientEstimator.Rotation ? RotationTrick(z, chosen.detach()) : StraightThrough(z, chosen.detach());
        if (project_out is not null) quantized = project_out.call(quantized);
        return new FlatQuantization(quantized, indices, aux, parts);
    }

    protected override Tensor LookupFlat(Tensor indices)
    {
        var codes = Codes.index_select(0, indices);
        return project_out is null ? codes : project_out.call(codes);
    }

    /// <summary>
    /// The rotation trick: the output equals the code, but the gradient reaching z is the upstream gradient
    /// rotated (and scaled) by the rotation that takes z to its code, instead of copied unchanged.
    /// </summary>
    public static Tensor RotationTrick(Tensor z, Tensor codes)
    {
        var zNorm = z.norm(1, keepdim: true).clamp_min(1e-8).detach();
        var qNorm = codes.norm(1, keepdim: true).clamp_min(1e-8).detach();
        var u = (z.detach() / zNorm);
        var q = codes / qNorm;
        var r = F.normalize(u + q, dim: 1).detach();
        // R z = z − 2 r (r·z) + 2 q (u·z): the Householder form of the rotation taking u to q.
        var rotated = z - 2 * r * (r * z).sum(1, keepdim: true) + 2 * q * (u * z).sum(1, keepdim: true);
        return rotated * (qNorm / zNorm);
    }

    Tensor OrthogonalPenalty()
    {
        var e = F.normalize(codebook.Codes(), dim: 1);
        if (e.shape[0] > 512) e = e.index_select(0, randperm(e.shape[0], device: e.device)[..512]);
        var gram = e.MatmulChecked(e.t());
        var identity = eye(gram.shape[0], device: gram.device);
        return (gram - identity).pow(2).sum() / (gram.shape[0] * gram.shape[0]);
    }

    /// <summary>Lloyd's k-means from <paramref name="k"/> random rows of <paramref name="x"/> (with replacement when there are fewer
    /// rows).</summary>
    public static Tensor Kmeans(Tensor x, int k, int iterations, bool cosine = false)
    {
        long m = x.shape[0];
        var start = m >= k ? randperm(m, device: x.device)[..k] : randint(m, new long[] { k }, device: x.device);
        var centroids = x.index_select(0, start).clone();
        for (int i = 0; i < iterations; i++)
        {
            var assign = NearestCode(x, centroids, cosine);
            var counts = bincount(assign, minlength: k).to(x.dtype).unsqueeze(1);
            var sums = zeros_like(centroids).index_add_(0, assign, x, 1);
            // An empty cluster keeps its centroid.
            centroids = where(counts > 0, sums / counts.clamp_min(1), centroids);
            if (cosine) centroids = F.normalize(centroids, dim: 1);
        }
        return centroids;
    }
}
