// Multi-head scaled dot-product attention (Vaswani et al. 2017), the one attention module of the kit: self-attention
// (the GPT, the ViT backbone, LexVLA's adapter, LaVIT's merger) and cross-attention (LaVIT's merger and feature decoder),
// causal or not, with a key padding mask and an explicit mask, through TorchSharp's fused
// scaled_dot_product_attention (or, where a CPU backward follows, explicit scores: see Attend). A query that may see no
// key at all (LaVIT: an image whose every patch was kept has no dropped token to attend to) gets a zero output,
// explicitly; softmax over nothing would be NaN, and the released LaVIT code's eps trick silently gives uniform weights
// instead. Keys may also carry weights in [0, 1] (a token
// selector's straight-through keep mask, DynamicViT's attention masking): a_ij = w_j e^{s_ij} / Σ_k w_k e^{s_ik}, exact
// masking where w is 0 or 1, with a gradient to every w_j — how a hard keep decision still learns from the loss.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Core;

/// <summary>Which keys each query may attend to. All members optional; together they are and-ed.</summary>
/// <param name="Causal">Query i sees key j only when j ≤ i (+ <paramref name="Past"/> cached keys before the queries).</param>
/// <param name="KeyPadding">[B, S] true for real keys; false keys are never attended to.</param>
/// <param name="Allowed">[B, 1 or H, T, S] true where query t may see key s.</param>
/// <param name="Past">Keys that precede the first query (a KV cache); only used with <paramref name="Causal"/>.</param>
/// <param name="KeyWeights">[B, S] weights in [0, 1] multiplying each key's unnormalised attention (differentiable; a hard
/// 0/1 with straight-through gradients masks exactly). Computed explicitly rather than by the fused kernel.</param>
public readonly record struct AttentionMask(bool Causal = false, Tensor? KeyPadding = null, Tensor? Allowed = null, long Past = 0,
    Tensor? KeyWeights = null)
{
    /// <summary>No restriction: every query sees every key.</summary>
    public static AttentionMask None => default;

    /// <summary>True when nothing is masked beyond (at most) the plain causal pattern, so the fused kernel needs no mask.</summary>
    internal bool Plain => KeyPadding is null && Allowed is null && KeyWeights is null && (!Causal || Past == 0);

    /// <summary>The boolean mask [B, 1|H, T, S] for <paramref name="t"/> queries and <paramref name="s"/> keys.</summary>
    public Tensor Build(long b, long t, long s, Device device)
    {
        Tensor mask = ones(b, 1, t, s, dtype: @bool, device: device);
        if (Causal) mask = mask.logical_and(ones(t, s, dtype: @bool, device: device).tril(Past).unsqueeze(0).unsqueeze(0));
        if (KeyPadding is { } keys) mask = mask.logical_and(keys.to(@bool).reshape(keys.shape[0], 1, 1, s));
        if (Allowed is { } allowed) mask = mask.logical_and(allowed.to(@bool));
        return mask;
    }
}

/// <summary>
/// Multi-head attention. Self-attention projects queries, keys and values with one fused weight (<c>qkv</c>, as GPT-2 and
/// nanoGPT name it); cross-attention projects queries from the input (<c>q</c>) and keys and values from the context
/// (<c>kv</c>); both end in <c>proj</c>.
/// </summary>
public sealed class MultiHeadAttention : nn.Module
{
    readonly Linear? qkv, q, kv;
    readonly Linear proj;
    readonly Dropout dropout;

    /// <param name="dim">Width of the queries (and of the output).</param>
    /// <param name="heads">Heads; must divide <paramref name="dim"/>.</param>
    /// <param name="contextDim">Width of the keys' and values' source for cross-attention; null = self-attention.</param>
    /// <param name="bias">Biases on the projections (the GPT has none, ViTs do).</param>
    /// <param name="dropout">Dropout on the output.</param>
    public MultiHeadAttention(int dim, int heads, int? contextDim = null, bool bias = false,
        double dropout = 0) : base(nameof(MultiHeadAttention))
    {
        if (heads < 1 || dim % heads != 0) throw new ArgumentException($"heads={heads} must divide dim={dim}.", nameof(heads));
        Dim = dim; Heads = heads; ContextDim = contextDim;
        if (contextDim is int c) { q = nn.Linear(dim, dim, hasBias: bias); kv = nn.Linear(c, 2L * dim, hasBias: bias); }
        else qkv = nn.Linear(dim, 3L * dim, hasBias: bias);
        proj = nn.Linear(dim, dim, hasBias: bias);
        this.dropout = nn.Dropout(dropout);
        RegisterComponents();
    }

    public int Dim { get; }
    public int Heads { get; }

    /// <summary>
    /// Told of every attention call on this thread (batch, queries, keys, Dim, plain causal, whether the queries need a
    /// gradient) while set: how FlopCounter counts QKᵀ and AV, which are matmuls, not layers it can hook.
    /// </summary>
    [ThreadStatic] internal static Action<long, long, long, long, bool, bool>? Observer;
    /// <summary>The context width of cross-attention; null for self-attention.</summary>
    public int? ContextDim { get; }

    /// <summary>
    /// Attention of <paramref name="x"/> [B, T, Dim] over itself, or over <paramref name="context"/> [B, S, ContextDim].
    /// <paramref name="rotate"/> transforms the queries and the keys [B, H, T, hd], each on its own (rotary positions);
    /// <paramref name="extend"/> may prepend cached keys and values [B, H, ·, hd] to this call's (a KV cache).
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? context = null, AttentionMask mask = default,
        Func<Tensor, Tensor>? rotate = null, Func<Tensor, Tensor, (Tensor K, Tensor V)>? extend = null)
    {
        var (queries, keys, values) = Project(x, context, rotate);
        if (extend is not null) (keys, values) = extend(keys, values);
        long b = x.shape[0], t = x.shape[1], s = keys.shape[2];
        Observer?.Invoke(b, t, s, Dim, mask.Plain && mask.Causal, queries.requires_grad);
        Tensor y;
        Tensor? sees = null; // [B, 1|H, T, 1]: which queries see some key (a query that sees none adds nothing, not the projection's bias)
        if (mask.Plain) y = Attend(queries, keys, values, mask.Causal);
        else if (mask.KeyWeights is not null)
        {
            var weights = Weighted(queries, keys, mask, b, t, s);
            sees = weights.sum(-1, keepdim: true).gt(0);
            y = weights.MatmulChecked(values);
        }
        else
        {
            var allowed = mask.Build(b, t, s, x.device);
            // Queries with no key to see: let them see every key, then zero their output.
            sees = allowed.any(-1, keepdim: true);
            y = Attend(queries, keys, values, allowed: allowed.logical_or(sees.logical_not())) * sees.to(queries.dtype);
        }
        var output = dropout.call(proj.call(y.transpose(1, 2).reshape(b, t, Dim)));
        return sees is null ? output : output * sees.any(1).to(output.dtype);    // [B, T, 1]
    }

    /// <summary>Largest score tensor (B·H·T·S elements) <see cref="Attend"/> computes explicitly: 64 Mi floats, 256 MiB per layer kept for
    /// backward.</summary>
    public const long ExplicitScoresLimit = 64L << 20;

    /// <summary>
    /// softmax(q kᵀ / √hd) v of queries [B, H, T, hd] over keys and values [B, H, S, hd], causal (query i sees keys j ≤ i)
    /// and/or restricted to <paramref name="allowed"/> [B, 1|H, T, S] (every row must allow some key). When the result
    /// needs a gradient on the CPU, the scores are computed explicitly — two batched products and a softmax, whose
    /// backward autograd derives — because the fused kernel's CPU backward is slower at the kit's shapes (`kit bench gpt`
    /// times both); inference, and scores above <see cref="ExplicitScoresLimit"/>, take the fused kernel, which never holds
    /// the [B, H, T, S] scores.
    /// </summary>
    public static Tensor Attend(Tensor queries, Tensor keys, Tensor values, bool causal = false, Tensor? allowed = null)
    {
        long t = queries.shape[2], s = keys.shape[2];
        bool needsGradient = queries.requires_grad || keys.requires_grad || values.requires_grad;
        bool explicitScores = needsGradient && queries.device_type == DeviceType.CPU
            && queries.shape[0] * queries.shape[1] * t * s <= ExplicitScoresLimit;
        if (!explicitScores && allowed is null) return F.scaled_dot_product_attention(queries, keys, values, is_casual: causal);
        // One boolean mask [.., T, S] for both restrictions (null: none).
        var causalMask = causal ? ones(t, s, dtype: @bool, device: queries.device).tril() : null;
        var visible = allowed is null ? causalMask : causalMask is null ? allowed : allowed.logical_and(causalMask);
        if (!explicitScores) return F.scaled_dot_product_attention(queries, keys, values, visible);
        // The scale goes on the queries ([.., T, hd]) rather than on the scores ([.., T, S]): fewer elements. The mask is
        // added as a 0 / −∞ bias into the product's own output (which its backward does not need): an addition's backward
        // passes the gradient through, where a masked_fill's would mask it in one more pass over the scores.
        var scores = (queries * (1.0 / Math.Sqrt(queries.shape[3]))).MatmulChecked(keys.transpose(-2, -1));
        if (visible is not null)
            scores = scores.add_(zeros(visible.shape, scores.dtype, scores.device).masked_fill_(visible.logical_not(),
                float.NegativeInfinity));
        return scores.softmax(-1).MatmulChecked(values);
    }

    /// <summary>The attention weights [B, H, T, S] the same call would use (rows that see no key are zero), for pictures.</summary>
    public Tensor Weights(Tensor x, Tensor? context = null, AttentionMask mask = default, Func<Tensor, Tensor>? rotate = null)
    {
        var (queries, keys, _) = Project(x, context, rotate);
        long b = x.shape[0], t = x.shape[1], s = keys.shape[2];
        if (mask.KeyWeights is not null) return Weighted(queries, keys, mask, b, t, s);
        var scores = queries.MatmulChecked(keys.transpose(-2, -1)) / Math.Sqrt(Dim / Heads);
        var allowed = mask.Build(b, t, s, x.device);
        var weights = scores.masked_fill(allowed.logical_not(), float.NegativeInfinity).softmax(-1);
        return weights.nan_to_num(0.0); // a row with no allowed key: all -inf, softmax NaN → 0
    }

    // a_ij = w_j e^{s_ij − m_i} / Σ_k w_k e^{s_ik − m_i}, m_i the largest score among the allowed keys of non-zero weight
    // (so a key of weight 0 changes nothing, bit for bit, whatever its score); a weight-0 key's exponent is capped at 0,
    // which keeps its product finite and still gives its weight a gradient. A row whose weights sum to 0 is 0.
    Tensor Weighted(Tensor queries, Tensor keys, AttentionMask mask, long b, long t, long s)
    {
        var scores = queries.MatmulChecked(keys.transpose(-2, -1)) / Math.Sqrt(Dim / Heads);
        var allowed = mask.Build(b, t, s, queries.device);
        var w = mask.KeyWeights!.reshape(b, 1, 1, s).to(scores.dtype);
        var counted = allowed.logical_and(w.gt(0));
        var top = scores.masked_fill(counted.logical_not(), float.NegativeInfinity).amax(new long[] { -1 }, keepdim: true).detach();
        var shift = (scores - where(top.isinf(), zeros_like(top), top)).clamp_max(0).masked_fill(allowed.logical_not(),
            float.NegativeInfinity);
        var unnormalised = shift.exp() * w;
        var total = unnormalised.sum(-1, keepdim: true);
        return unnormalised / where(total.gt(0), total, ones_like(total));
    }

    (Tensor Q, Tensor K, Tensor V) Project(Tensor x, Tensor? context, Func<Tensor, Tensor>? rotate)
    {
        if (x.dim() != 3 || x.shape[2] != Dim) throw new ArgumentException($"x must be [B, T, {Dim}]; got [{string.Join(", ", x.shape)}].",
            nameof(x));
        long b = x.shape[0], t = x.shape[1], hd = Dim / Heads;
        Tensor queries, keys, v;
        if (qkv is not null)
        {
            if (context is not null) throw new ArgumentException("a self-attention module was given a context; build it with " +
                "contextDim for cross-attention.", nameof(context));
            // unbind, not narrow and select: its backward stacks the three gradients in one pass, where each slice's
            // backward would zero a whole [3, B, H, T, hd] buffer and copy its part in.
            var parts = qkv.call(x).reshape(b, t, 3, Heads, hd).permute(2, 0, 3, 1, 4).unbind(0); // 3 × [B, H, T, hd]
            (queries, keys, v) = (parts[0], parts[1], parts[2]);
        }
        else
        {
            if (context is null || context.dim() != 3 || context.shape[0] != b || context.shape[2] != ContextDim)
                throw new ArgumentException($"cross-attention needs a context [{b}, S, {ContextDim}]; got " +
                    $"{(context is null ? "none" : $"[{string.Join(", ", context.shape)}]")}.", nameof(context));
            long s = context.shape[1];
            var crossQueries = q!.call(x).reshape(b, t, Heads, hd).transpose(1, 2);
            var pair = kv!.call(context).reshape(b, s, 2, Heads, hd).permute(2, 0, 3, 1, 4).unbind(0); // 2 × [B, H, S, hd]
            if (rotate is not null) throw new ArgumentException("rotary positions apply to self-attention only.", nameof(rotate));
            return (crossQueries, pair[0], pair[1]);
        }
        if (rotate is not null) (queries, keys) = (rotate(queries), rotate(keys));
        return (queries, keys, v);
    }
}
