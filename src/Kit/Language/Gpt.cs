// A decoder-only transformer in the shape of nanoGPT (Radford et al. 2019; LaVIT, UniCode and CM3Leon all put
// one under their unified vocabularies): token embedding, RoPE or learned positions, pre-norm blocks with
// causal scaled-dot-product attention and an MLP, a final norm, and a token head (flat, or MAGVIT-v2's
// factorized head for large visual vocabularies). Generation reuses past keys and values (KvCache).
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Language;

/// <summary>Shape of a <see cref="Gpt"/>; the defaults are the kit's CPU-sized model.</summary>
/// <param name="VocabSize">Token ids are 0 … VocabSize − 1.</param>
/// <param name="ContextLength">Longest sequence (positions) the model takes.</param>
/// <param name="Layers">Transformer blocks.</param>
/// <param name="Heads">Attention heads (Dim must be divisible by it).</param>
/// <param name="Dim">Width of the residual stream.</param>
/// <param name="MlpRatio">MLP hidden width as a multiple of Dim.</param>
/// <param name="Rope">Rotary position embedding (true) or a learned position table (false).</param>
/// <param name="TieEmbeddings">Flat head shares its weight with the token embedding.</param>
/// <param name="Dropout">Dropout on attention output and MLP (0 for the small CPU runs).</param>
/// <param name="Factorization">Embed and predict visual codes by sub-codebook (null = one flat head).</param>
/// <param name="VisualCodesFrom">
/// When set, the ids from this one on are visual codes and every target is normalised over its own modality: a visual
/// target by a softmax over the codes alone, any other target over the other ids. That is the distribution constrained
/// decoding samples from (after [IMG] only codes are allowed, outside an image none are), and a visual position then
/// costs the head |codes| outputs instead of the whole vocabulary. Null: one softmax over every id.
/// </param>
/// <param name="SharedCodeIds">
/// The shared layout (UniCode): these text ids are also the visual codes (code k = SharedCodeIds[k]); a target inside an
/// image block is normalised over them alone, any other target over every id. Exclusive with VisualCodesFrom.
/// </param>
public sealed record GptConfig(int VocabSize, int ContextLength = 128, int Layers = 4, int Heads = 4, int Dim = 256, int MlpRatio = 4,
    bool Rope = true, bool TieEmbeddings = true, double Dropout = 0, CodeFactorization? Factorization = null, int? VisualCodesFrom = null,
    int[]? SharedCodeIds = null)
{
    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public GptConfig Validate()
    {
        if (VocabSize < 2) throw new ArgumentException($"VocabSize={VocabSize}: expected at least 2 tokens.", nameof(VocabSize));
        if (ContextLength < 2) throw new ArgumentException($"ContextLength={ContextLength}: expected at least 2 positions.",
            nameof(ContextLength));
        if (Layers < 1) throw new ArgumentException($"Layers={Layers}: expected at least 1.", nameof(Layers));
        if (Heads < 1 || Dim % Heads != 0) throw new ArgumentException($"Heads={Heads} must divide Dim={Dim}.", nameof(Heads));
        if (Rope && (Dim / Heads) % 2 != 0) throw new ArgumentException($"RoPE needs an even head width; Dim/Heads = {Dim / Heads}.",
            nameof(Rope));
        if (Factorization is { } f && f.CodeOffset + f.CodebookSize != VocabSize)
            throw new ArgumentException($"Factorization covers ids {f.CodeOffset}…{f.CodeOffset + f.CodebookSize - 1} but " +
                $"VocabSize={VocabSize}: visual codes must be the last ids.", nameof(Factorization));
        if (VisualCodesFrom is int from && (from < 1 || from >= VocabSize))
            throw new ArgumentException($"VisualCodesFrom={from}: expected 1 … {VocabSize - 1}, so that both modalities have ids.",
                nameof(VisualCodesFrom));
        if (VisualCodesFrom is int at && Factorization is { } g && at != g.CodeOffset)
            throw new ArgumentException($"VisualCodesFrom={at} but the factorization's codes start at {g.CodeOffset}.",
                nameof(VisualCodesFrom));
        if (SharedCodeIds is { } shared)
        {
            if (VisualCodesFrom is not null || Factorization is not null)
                throw new ArgumentException("SharedCodeIds (codes on text ids) excludes VisualCodesFrom and Factorization (codes after " +
                    "the text ids).", nameof(SharedCodeIds));
            if (shared.Length < 2 || shared.Any(i => i < 0 || i >= VocabSize) || shared.Distinct().Count() != shared.Length)
                throw new ArgumentException($"SharedCodeIds: expected at least 2 distinct ids in 0…{VocabSize - 1}.",
                    nameof(SharedCodeIds));
        }
        return this;
    }

    /// <summary>Parameters in the transformer blocks (the 6·N·tokens FLOP rule counts these).</summary>
    public long BlockParameters => Layers * (4L * Dim * Dim + 2L * MlpRatio * Dim * Dim);

    /// <summary>
    /// Training FLOPs per token (forward + backward): 6 × (block and head weights) plus attention
    /// 12 · layers · T · Dim (PaLM's appendix B; nanoGPT's MFU uses the same count).
    /// </summary>
    public double TrainFlopsPerToken(int sequenceLength) =>
        6.0 * (BlockParameters + (long)Dim * HeadOutputs) + 12.0 * Layers * sequenceLength * Dim / 2; // causal: half the scores

    int HeadOutputs => Factorization is { } f ? f.CodeOffset + 1 + f.GroupBits.Sum(b => 1 << b) : VocabSize;
}

/// <summary>
/// Past keys and values of every layer, so each new token costs one position instead of the whole prefix. The
/// buffers are allocated once at <paramref name="capacity"/> positions and filled in place: a step writes its
/// keys into the next slots instead of concatenating (and copying) the whole past; without a capacity they double as needed.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor?[] _keys, _values;
    readonly long _capacity;

    public KvCache(int layers, long capacity = 0) { _keys = new Tensor?[layers]; _values = new Tensor?[layers]; _capacity = capacity; }

    /// <summary>Positions cached so far.</summary>
    public long Length { get; private set; }

    /// <summary>Which cached positions are real tokens (false = left padding) [B, Length]; null = all real.</summary>
    public Tensor? KeyMask { get; private set; }

    /// <summary>Writes this step's keys and values [B, H, T, hd] after the cached ones and returns all of them so far.</summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2], total = Length + t;
        if (_keys[layer] is null || _keys[layer]!.shape[2] < total) Grow(layer, k, v, Math.Max(total, Math.Max(_capacity,
            2 * (_keys[layer]?.shape[2] ?? 0))));
        using (no_grad())
        {
            _keys[layer]!.narrow(2, Length, t).copy_(k);
            _values[layer]!.narrow(2, Length, t).copy_(v);
        }
        if (layer == _keys.Length - 1) Length = total; // every layer appends once per forward; the last one closes the step
        return (_keys[layer]!.narrow(2, 0, total), _values[layer]!.narrow(2, 0, total));
    }

    void Grow(int layer, Tensor k, Tensor v, long capacity)
    {
        var shape = new[] { k.shape[0], k.shape[1], capacity, k.shape[3] };
        var (oldK, oldV) = (_keys[layer], _values[layer]);
        var newK = empty(shape, k.dtype, k.device);
        var newV = empty(shape, v.dtype, v.device);
        if (oldK is not null) { newK.narrow(2, 0, Length).copy_(oldK.narrow(2, 0, Length)); newV.narrow(2, 0, Length).copy_(oldV!.narrow(2,
            0, Length)); }
        _keys[layer] = newK.MoveToOuterDisposeScope(); // the cache outlives the step that fills it
        _values[layer] = newV.MoveToOuterDisposeScope();
        oldK?.Dispose(); oldV?.Dispose();
    }

    internal void AppendMask(Tensor mask)
    {
        var old = KeyMask;
        KeyMask = (old is null ? mask.clone() : cat(new[] { old, mask }, 1)).MoveToOuterDisposeScope();
        old?.Dispose();
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
        KeyMask?.Dispose();
    }
}

/// <summary>Rotary position embedding: rotates pairs of query/key channels by a position-dependent angle.</summary>
sealed class RotaryEmbedding : nn.Module
{
    readonly Tensor cos, sin;

    public RotaryEmbedding(int headDim, int contextLength) : base(nameof(RotaryEmbedding))
    {
        var inverse = pow(10000.0, -arange(0, headDim, 2, float32) / headDim);
        var angles = outer(arange(contextLength, dtype: float32), inverse);        // [T, hd/2]
        cos = cat(new[] { angles.cos(), angles.cos() }, -1);                     // [T, hd]
        // The sine with the rotation's sign folded in (−sin on the first half), so Apply needs no negation: −a·s and
        // a·(−s) are the same float.
        sin = cat(new[] { -angles.sin(), angles.sin() }, -1);
        register_buffer("cos", cos, persistent: false);
        register_buffer("sin", sin, persistent: false);
    }

    /// <summary>cos and signed sin at positions [B, T], shaped [B, 1, T, hd] to broadcast over heads (computed once per forward, shared by
    /// every layer).</summary>
    public (Tensor Cos, Tensor Sin) At(Tensor positions)
    {
        var index = positions.reshape(-1);
        return (cos.index_select(0, index).reshape(positions.shape[0], 1, positions.shape[1], -1),
                sin.index_select(0, index).reshape(positions.shape[0], 1, positions.shape[1], -1));
    }

    /// <summary>Rotates x [B, H, T, hd] (queries or keys) by the angles of its positions.</summary>
    public static Tensor Apply(Tensor x, (Tensor Cos, Tensor Sin) angles)
    {
        long half = x.shape[^1] / 2;
        // (x₂, x₁) as a flip of the halves: one copy forward and one backward, where a cat of two slices would zero and
        // fill a buffer per slice in backward. Splitting the contiguous last dimension is a view; the sign is in Sin.
        var halves = x.shape.SkipLast(1).Concat(new[] { 2L, half }).ToArray();
        var swapped = x.reshape(halves).flip(-2).reshape(x.shape);
        return x * angles.Cos + swapped * angles.Sin;
    }
}

/// <summary>The decoder-only transformer. <see cref="Hidden"/> gives the final states, <see cref="Head"/> turns them into token
/// predictions.</summary>
public sealed class Gpt : nn.Module<Tensor, Tensor>
{
    readonly TokenEmbedding wte;
    readonly Embedding? wpe;
    readonly RotaryEmbedding? rope;
    readonly ModuleList<TransformerBlock> h;
    readonly LayerNorm ln_f;
    readonly TokenHead head;

    public Gpt(GptConfig config) : base(nameof(Gpt))
    {
        Config = config.Validate();
        wte = new TokenEmbedding(config);
        wpe = config.Rope ? null : nn.Embedding(config.ContextLength, config.Dim);
        rope = config.Rope ? new RotaryEmbedding(config.Dim / config.Heads, config.ContextLength) : null;
        h = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new TransformerBlock(config.Dim, config.Heads, config.MlpRatio,
            dropout: config.Dropout)).ToArray());
        ln_f = nn.LayerNorm(config.Dim);
        head = new TokenHead(config, config.TieEmbeddings ? wte.FlatWeight : null);
        RegisterComponents();
        InitialiseWeights();
    }

    public GptConfig Config { get; }

    /// <summary>The token head (flat or factorized): losses and sampling.</summary>
    public TokenHead Head => head;

    /// <summary>
    /// The token embedding table [ids, Dim] (wte), read-only: the model's own parameter, which a caller may read and
    /// differentiate through but not replace. UniCode's visual codebook reads its rows (an <c>ExternalCodebook</c> over
    /// <c>() => gpt.TokenEmbeddings</c>); the quantizers never reference the language model themselves.
    /// </summary>
    public Tensor TokenEmbeddings => wte.Table;

    /// <summary>Token embeddings [B, T, Dim] of ids [B, T].</summary>
    public Tensor Embed(Tensor tokens)
    {
        CheckTokens(tokens);
        return wte.call(tokens);
    }

    /// <summary>Logits of the flat head [B, T, VocabSize] (factorized models: use <see cref="Head"/>).</summary>
    public override Tensor forward(Tensor tokens) => head.FlatLogits(Hidden(Embed(tokens)));

    /// <summary>
    /// Final hidden states [B, T, Dim] of input embeddings [B, T, Dim] (so callers may mix in continuous inputs).
    /// With a cache, the inputs continue the cached prefix. <paramref name="keyMask"/> [B, T] marks real tokens
    /// (false = left padding, never attended to); positions count real tokens only.
    /// </summary>
    public Tensor Hidden(Tensor embeddings, KvCache? cache = null, Tensor? keyMask = null)
    {
        if (embeddings.dim() != 3 || embeddings.shape[2] != Config.Dim)
            throw new ArgumentException($"embeddings must be [B, T, {Config.Dim}]; got [{string.Join(", ", embeddings.shape)}].",
                nameof(embeddings));
        long b = embeddings.shape[0], t = embeddings.shape[1], past = cache?.Length ?? 0;
        if (past + t > Config.ContextLength)
            throw new ArgumentException($"sequence of {past + t} positions exceeds ContextLength={Config.ContextLength}.",
                nameof(embeddings));
        var device = embeddings.device;
        Tensor positions;
        AttentionMask attention;
        if (keyMask is null && cache?.KeyMask is null)
        {
            positions = arange(past, past + t, dtype: int64, device: device).unsqueeze(0).expand(b, t);
            // No padding: the fused causal kernel without a past; one new token sees every cached key, so no mask at all.
            attention = past == 0 ? new(Causal: true) : t == 1 ? AttentionMask.None : new(Allowed: CausalMask(ones(b, past + t,
                dtype: @bool, device: device), past, t));
        }
        else
        {
            keyMask ??= ones(b, t, dtype: @bool, device: device);
            if (cache is not null)
            {
                if (cache.KeyMask is null && past > 0) cache.AppendMask(ones(b, past, dtype: @bool, device: device));
                cache.AppendMask(keyMask);
            }
            var allKeys = cache?.KeyMask ?? keyMask;
            // Position = number of real tokens before this one, so left padding does not shift a sequence.
            positions = (allKeys.to(int64).cumsum(1) - 1).clamp_min(0).narrow(1, past, t);
            attention = new(Allowed: CausalMask(allKeys, past, t));
        }
        var x = embeddings;
        if (wpe is not null) x = x + wpe.call(positions);
        var angles = rope?.At(positions);
        Func<Tensor, Tensor>? rotate = angles is { } a ? qk => RotaryEmbedding.Apply(qk, a) : null;
        for (int i = 0; i < Config.Layers; i++)
        {
            int layer = i;
            x = h[i].Forward(x, attention, rotate, cache is null ? null : (k, v) => cache.Append(layer, k, v));
        }
        return ln_f.call(x);
    }

    /// <summary>[B, 1, T, past+T] boolean: query i (at absolute past+i) may see key j when j ≤ past+i and key j is real, and always
    /// itself.</summary>
    static Tensor CausalMask(Tensor keys, long past, long t)
    {
        long total = past + t;
        var causal = ones(t, total, dtype: @bool, device: keys.device).tril(past);
        // Each position also sees itself, so a padding query has one key and stays finite (all-masked rows give NaN).
        var self = causal.logical_xor(ones(t, total, dtype: @bool, device: keys.device).tril(past - 1));
        return causal.unsqueeze(0).logical_and(keys.unsqueeze(1)).logical_or(self.unsqueeze(0)).unsqueeze(1);
    }

    void CheckTokens(Tensor tokens)
    {
        if (tokens.dim() != 2 || tokens.dtype != int64)
            throw new ArgumentException($"tokens must be int64 [B, T]; got {tokens.dtype} [{string.Join(", ", tokens.shape)}].",
                nameof(tokens));
        // An id outside the table would otherwise surface as libtorch's "index out of range in self" with C++ frames.
        if (tokens.numel() == 0) return;
        long lo = tokens.min().item<long>(), hi = tokens.max().item<long>();
        if (lo < 0 || hi >= Config.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(tokens),
                $"token ids {lo} … {hi} given; this GPT's vocabulary has {Config.VocabSize} ids: expected 0 … {Config.VocabSize - 1}.");
    }

    // GPT-2's initialisation: N(0, 0.02) everywhere, residual projections scaled by 1/sqrt(2·layers).
    void InitialiseWeights()
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("bias")) p.zero_();
            else if (name.Contains("ln_")) p.fill_(1);
            else if (name.EndsWith("proj.weight") || name.EndsWith("mlp.2.weight")) nn.init.normal_(p, 0,
                0.02 / Math.Sqrt(2 * Config.Layers));
            else nn.init.normal_(p, 0, 0.02);
        }
    }
}
