// Vector quantization (VQ-VAE, van den Oord et al. 2017; EMA codebooks, VQ-VAE-2; cosine and
// low-dimensional lookups, ViT-VQGAN / LlamaGen; rotation trick, Fifty et al. 2024): each feature takes the
// nearest of K learned codes.
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
    readonly Tensor embed;          // [K, c]: a Parameter (gradient) or a buffer (EMA)
    readonly Tensor cluster_size;   // [K] EMA of assignments per code (both modes: drives dead-code expiry)
    readonly Tensor embed_sum;      // [K, c] EMA of the features assigned to each code (EMA mode)
    readonly Tensor initted;        // scalar flag: k-means initialisation done
    bool _initialisedChecked;

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
    /// <param name="deadCodeThreshold">Codes whose EMA cluster size falls below this are replaced by batch features (0 = off; ≈2 typical).</param>
    /// <param name="estimator">Straight-through, or the rotation trick.</param>
    /// <param name="orthogonalWeight">Weight of the orthogonality penalty on the (normalised) codebook (0 = off).</param>
    public VectorQuantizer(int dim, int codebookSize, int? codeDim = null, CodeDistance distance = CodeDistance.L2,
        CodebookUpdate update = CodebookUpdate.Ema, double decay = 0.99, double epsilon = 1e-5, double commitmentWeight = 0.25,
        bool kmeansInit = false, int kmeansIterations = 10, double deadCodeThreshold = 0, GradientEstimator estimator = GradientEstimator.StraightThrough,
        double orthogonalWeight = 0)
        : base(nameof(VectorQuantizer), dim, codebookSize)
    {
        int c = codeDim ?? dim;
        if (c <= 0 || c > dim) throw new ArgumentOutOfRangeException(nameof(codeDim), codeDim, $"expected 1..{dim} (the feature dimension)");
        if (decay <= 0 || decay >= 1) throw new ArgumentOutOfRangeException(nameof(decay), decay, "expected 0 < decay < 1");
        if (commitmentWeight < 0) throw new ArgumentOutOfRangeException(nameof(commitmentWeight), commitmentWeight, "expected ≥ 0");
        CodeDim = c; Distance = distance; Update = update; Decay = decay; Epsilon = epsilon; CommitmentWeight = commitmentWeight;
        KmeansInit = kmeansInit; KmeansIterations = kmeansIterations; DeadCodeThreshold = deadCodeThreshold; Estimator = estimator;
        OrthogonalWeight = orthogonalWeight;
        if (c != dim) { project_in = nn.Linear(dim, c); project_out = nn.Linear(c, dim); }
        var init = randn(codebookSize, c);
        if (distance == CodeDistance.Cosine) init = F.normalize(init, dim: 1);
        // nn.Parameter takes over the handle of the tensor it wraps, so it gets a copy.
        if (update == CodebookUpdate.Gradient) embed = nn.Parameter(init.clone());
        else embed = init;
        cluster_size = ones(codebookSize);
        embed_sum = init.clone();
        initted = tensor(kmeansInit ? 0f : 1f);
        if (update == CodebookUpdate.Ema) register_buffer(nameof(embed), embed);
        register_buffer(nameof(cluster_size), cluster_size);
        register_buffer(nameof(embed_sum), embed_sum);
        register_buffer(nameof(initted), initted);
        RegisterComponents();
    }

    public int CodeDim { get; }
    public CodeDistance Distance { get; }
    public CodebookUpdate Update { get; }
    public double Decay { get; }
    public double Epsilon { get; }
    /// <summary>β; settable so a schedule can anneal it.</summary>
    public double CommitmentWeight { get; set; }
    public bool KmeansInit { get; }
    public int KmeansIterations { get; }
    public double DeadCodeThreshold { get; }
    public GradientEstimator Estimator { get; }
    public double OrthogonalWeight { get; set; }

    /// <summary>The codebook as used for lookup ([K, c], normalised for cosine distance).</summary>
    public Tensor Codebook => Distance == CodeDistance.Cosine ? F.normalize(embed, dim: 1) : embed;

    /// <summary>Index of the nearest code for each row of <paramref name="z"/> [M, c] (in the lookup space).</summary>
    public Tensor Nearest(Tensor z) => NearestCode(Distance == CodeDistance.Cosine ? F.normalize(z, dim: 1) : z, Codebook.detach(), Distance == CodeDistance.Cosine);

    /// <summary>
    /// Index of the nearest row of <paramref name="codes"/> for each row of <paramref name="x"/>: largest dot product
    /// for (already normalised) cosine codes, else smallest ‖x − e‖² = ‖x‖² − 2 x·e + ‖e‖² (‖x‖² is the same for every
    /// code, so it is left out).
    /// </summary>
    static Tensor NearestCode(Tensor x, Tensor codes, bool cosine) =>
        cosine ? x.matmul(codes.t()).argmax(1) : (codes.pow(2).sum(1).unsqueeze(0) - 2 * x.matmul(codes.t())).argmin(1);

    protected override FlatQuantization QuantizeFlat(Tensor features)
    {
        var z = project_in is null ? features : project_in.call(features);
        if (Distance == CodeDistance.Cosine) z = F.normalize(z, dim: 1);
        if (training && KmeansInit && !_initialisedChecked)
        {
            if (initted.item<float>() == 0) InitialiseByKmeans(z.detach()); // one sync, once: after this the flag is known
            _initialisedChecked = true;
        }
        var codebook = Codebook; // normalised once per step for cosine codes
        var indices = NearestCode(z.detach(), codebook.detach(), Distance == CodeDistance.Cosine);
        var codes = codebook.index_select(0, indices);
        var parts = new Dictionary<string, Tensor>();

        var commitment = F.mse_loss(z, codes.detach());
        var aux = commitment * CommitmentWeight;
        parts["commitment"] = commitment.detach();
        if (Update == CodebookUpdate.Gradient)
        {
            var codebookLoss = F.mse_loss(codes, z.detach()); // moves the codes; β belongs on the other term
            aux = aux + codebookLoss;
            parts["codebook"] = codebookLoss.detach();
        }
        if (OrthogonalWeight > 0)
        {
            var orthogonal = OrthogonalPenalty();
            aux = aux + orthogonal * OrthogonalWeight;
            parts["orthogonal"] = orthogonal.detach();
        }
        if (training) UpdateStatistics(z.detach(), indices);

        var quantized = Estimator == GradientEstimator.Rotation ? RotationTrick(z, codes.detach()) : StraightThrough(z, codes.detach());
        if (project_out is not null) quantized = project_out.call(quantized);
        return new FlatQuantization(quantized, indices, aux, parts);
    }

    protected override Tensor LookupFlat(Tensor indices)
    {
        var codes = Codebook.index_select(0, indices);
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
        var e = F.normalize(embed, dim: 1);
        if (e.shape[0] > 512) e = e.index_select(0, randperm(e.shape[0], device: e.device)[..512]);
        var gram = e.matmul(e.t());
        var identity = eye(gram.shape[0], device: gram.device);
        return (gram - identity).pow(2).sum() / (gram.shape[0] * gram.shape[0]);
    }

    void UpdateStatistics(Tensor z, Tensor indices)
    {
        using var noGrad = no_grad();
        var counts = bincount(indices, minlength: CodebookSize).to(z.dtype);
        cluster_size.mul_(Decay).add_(counts, alpha: 1 - Decay);
        if (Update == CodebookUpdate.Ema)
        {
            var sums = zeros_like(embed_sum).index_add_(0, indices, z, 1);
            embed_sum.mul_(Decay).add_(sums, alpha: 1 - Decay);
            // Laplace smoothing keeps an unused code's size above zero, so its division is defined.
            var n = cluster_size.sum();
            var smoothed = (cluster_size + Epsilon) / (n + CodebookSize * Epsilon) * n;
            var updated = embed_sum / smoothed.unsqueeze(1);
            embed.copy_(Distance == CodeDistance.Cosine ? F.normalize(updated, dim: 1) : updated);
        }
        if (DeadCodeThreshold > 0) ExpireDeadCodes(z);
    }

    void ExpireDeadCodes(Tensor z)
    {
        var dead = cluster_size.lt(DeadCodeThreshold).nonzero().reshape(-1);
        long count = dead.shape[0];
        if (count == 0) return;
        var pick = randint(z.shape[0], new[] { count }, device: z.device);
        var replacement = z.index_select(0, pick);
        embed.index_copy_(0, dead, replacement);
        cluster_size.index_fill_(0, dead, DeadCodeThreshold);
        embed_sum.index_copy_(0, dead, replacement * DeadCodeThreshold);
    }

    void InitialiseByKmeans(Tensor z)
    {
        using var noGrad = no_grad();
        var centroids = Kmeans(z, (int)CodebookSize, KmeansIterations, Distance == CodeDistance.Cosine);
        embed.copy_(centroids);
        embed_sum.copy_(centroids);
        cluster_size.fill_(1);
        initted.fill_(1);
    }

    /// <summary>Lloyd's k-means from <paramref name="k"/> random rows of <paramref name="x"/> (with replacement when there are fewer rows).</summary>
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
