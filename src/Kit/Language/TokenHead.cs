// Token embedding and output head, flat or factorized. MAGVIT-v2 (§3.1, "token factorization") splits a 2^18
// LFQ index into sub-codebook indices, embeds each with its own table and sums them, and predicts each with its
// own head, so the model carries 2 × 512 rows instead of 262,144. Here the factorized head predicts the
// non-visual ids plus one "a visual code" class, and, given that class, each sub-index independently.
using Kit.Quantizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Language;

/// <summary>Visual codes occupy ids CodeOffset … CodeOffset + 2^ΣGroupBits − 1; each is split LSB group first.</summary>
public sealed record CodeFactorization(int CodeOffset, int[] GroupBits)
{
    /// <summary>Number of visual codes.</summary>
    public int CodebookSize => 1 << GroupBits.Sum();

    /// <summary>Sub-codebook indices of visual ids (LSB group first).</summary>
    public Tensor[] Split(Tensor ids) => LookupFreeQuantizer.Factorize((ids - CodeOffset).clamp_min(0), GroupBits);

    /// <summary>Visual ids of sub-codebook indices.</summary>
    public Tensor Join(IReadOnlyList<Tensor> parts) => LookupFreeQuantizer.Combine(parts, GroupBits) + CodeOffset;
}

/// <summary>ids [B, T] → embeddings [B, T, Dim]: one table, or a base table plus summed sub-codebook tables for visual ids.</summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    readonly Embedding weight_table;
    readonly ModuleList<Embedding>? groups;
    readonly CodeFactorization? _factorization;

    public TokenEmbedding(GptConfig c) : base(nameof(TokenEmbedding))
    {
        _factorization = c.Factorization;
        weight_table = nn.Embedding(_factorization?.CodeOffset ?? c.VocabSize, c.Dim);
        if (_factorization is { } f) groups = nn.ModuleList(f.GroupBits.Select(b => nn.Embedding(1L << b, c.Dim)).ToArray());
        RegisterComponents();
    }

    /// <summary>The flat table's weight (for a tied head); null when factorized, where tying does not apply.</summary>
    internal Parameter? FlatWeight => _factorization is null ? weight_table.weight : null;

    /// <summary>The embedding table of the ids it embeds directly [ids, Dim] (factorized: the non-visual ids).</summary>
    internal Parameter Table => weight_table.weight!;

    public override Tensor forward(Tensor ids)
    {
        if (_factorization is not { } f) return weight_table.call(ids);
        var isCode = ids.ge(f.CodeOffset).unsqueeze(-1);
        var embedded = weight_table.call(ids.clamp_max(f.CodeOffset - 1));
        var parts = f.Split(ids);
        Tensor code = groups![0].call(parts[0]);
        for (int g = 1; g < parts.Length; g++) code = code + groups[g].call(parts[g]);
        return where(isCode, code, embedded);
    }
}

/// <summary>Hidden states → next-token predictions: per-token losses, logits for sampling (one softmax over every id, or one per
/// modality).</summary>
public sealed class TokenHead : nn.Module
{
    readonly Linear? flat;
    readonly Linear? @base;
    readonly ModuleList<Linear>? groups;
    readonly Func<Tensor>? _tiedWeight; // a delegate, not a field of type Parameter, so it is not registered twice

    internal TokenHead(GptConfig c, Parameter? tiedWeight) : base(nameof(TokenHead))
    {
        Factorization = c.Factorization;
        VocabSize = c.VocabSize;
        VisualCodesFrom = c.VisualCodesFrom;
        SharedCodeIds = c.SharedCodeIds;
        if (Factorization is { } f)
        {
            @base = nn.Linear(c.Dim, f.CodeOffset + 1, hasBias: false); // + 1: "the next token is a visual code"
            groups = nn.ModuleList(f.GroupBits.Select(b => nn.Linear(c.Dim, 1L << b, hasBias: false)).ToArray());
        }
        else if (tiedWeight is not null) _tiedWeight = () => tiedWeight;
        else flat = nn.Linear(c.Dim, c.VocabSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>The factorization, or null for a flat head.</summary>
    public CodeFactorization? Factorization { get; }

    /// <summary>Number of token ids.</summary>
    public int VocabSize { get; }

    /// <summary>First visual code id when each modality has its own softmax (<see cref="GptConfig.VisualCodesFrom"/>), else null.</summary>
    public int? VisualCodesFrom { get; }

    /// <summary>The text ids that are also visual codes (the shared layout, <see cref="GptConfig.SharedCodeIds"/>), else null.</summary>
    public IReadOnlyList<int>? SharedCodeIds { get; }

    /// <summary>True when each modality has its own softmax (offset or shared layout).</summary>
    public bool PerModality => VisualCodesFrom is not null || SharedCodeIds is not null;

    Tensor FlatWeight => _tiedWeight?.Invoke() ?? flat!.weight!;

    // Logits over the ids before the first visual code: the flat weight's first rows, or the factorized base head
    // without its "a visual code" class.
    Tensor NonVisualLogits(Tensor hidden, int from) =>
        Factorization is null ? F.linear(hidden, FlatWeight.narrow(0, 0, from)) : @base!.call(hidden).narrow(-1, 0, from);

    /// <summary>
    /// The raw predictions: flat head → [logits over all ids]; factorized → [base logits over CodeOffset + 1
    /// classes, then one logits tensor per sub-codebook].
    /// </summary>
    public Tensor[] Parts(Tensor hidden) =>
        _tiedWeight is not null ? new[] { F.linear(hidden, _tiedWeight()) }
        : flat is not null ? new[] { flat.call(hidden) }
        : new[] { @base!.call(hidden) }.Concat(groups!.Select(g => g.call(hidden))).ToArray();

    /// <summary>
    /// Log-probabilities over every id [.., VocabSize]. Flat: log-softmax of the logits. Factorized:
    /// log p(id) for text ids, log p(code class) + Σ log p(sub-index) for visual ids (sizes up to about 2^16).
    /// With <see cref="VisualCodesFrom"/> set, each modality is normalised on its own: log p(id | its modality).
    /// </summary>
    public Tensor FlatLogits(Tensor hidden)
    {
        var parts = Parts(hidden);
        if (Factorization is null && VisualCodesFrom is null) return parts[0];
        if (Factorization is null)
        {
            int from = VisualCodesFrom!.Value;
            return cat(new[] { F.log_softmax(parts[0].narrow(-1, 0, from), -1), F.log_softmax(parts[0].narrow(-1, from, VocabSize - from),
                -1) }, -1);
        }
        var f = Factorization!;
        // Outer sum over groups, highest group outermost, so the flattened index is Σ sub_g << shift_g.
        Tensor codes = F.log_softmax(parts[^1], -1);
        for (int g = parts.Length - 2; g >= 1; g--)
        {
            var low = F.log_softmax(parts[g], -1);
            codes = (codes.unsqueeze(-1) + low.unsqueeze(-2)).flatten(-2);
        }
        if (VisualCodesFrom is not null) return cat(new[] { F.log_softmax(parts[0].narrow(-1, 0, f.CodeOffset), -1), codes }, -1);
        var baseLog = F.log_softmax(parts[0], -1);
        return cat(new[] { baseLog.narrow(-1, 0, f.CodeOffset), codes + baseLog.narrow(-1, f.CodeOffset, 1) }, -1);
    }

    /// <summary>
    /// Cross-entropy of each next token [B, T] (targets [B, T]); the caller weights and averages. With
    /// <paramref name="weights"/> [B, T] and one softmax per modality, positions of weight 0 (padding, a given image's
    /// codes) skip the head and get loss 0: they are a large share of a unified batch and would be multiplied by 0 anyway.
    /// </summary>
    /// <remarks>
    /// <paramref name="visualTargets"/> [B, T] marks the targets that lie inside an image block; it is required in the shared
    /// layout, where a code's id is also a word's, and defaults to "id ≥ the first code id" in the offset layout.
    /// </remarks>
    public Tensor TokenLosses(Tensor hidden, Tensor targets, Tensor? weights = null, Tensor? visualTargets = null)
    {
        if (targets.lt(0).logical_or(targets.ge(VocabSize)).any().item<bool>()) // one sync for both bounds
            throw new ArgumentException($"targets must lie in 0…{VocabSize - 1}.", nameof(targets));
        if (weights is not null && !weights.shape.SequenceEqual(targets.shape))
            throw new ArgumentException($"weights [{string.Join(", ", weights.shape)}] must have the targets' shape " +
                $"[{string.Join(", ", targets.shape)}].", nameof(weights));
        if (PerModality) return ModalityLosses(hidden, targets, weights, visualTargets);
        var parts = Parts(hidden);
        var shape = targets.shape;
        Tensor CrossEntropy(Tensor logits, Tensor y) => PerRowCrossEntropy(logits.reshape(-1, logits.shape[^1]),
            y.reshape(-1)).reshape(shape);
        if (Factorization is null) return CrossEntropy(parts[0], targets);
        var f = Factorization!;
        var isCode = targets.ge(f.CodeOffset);
        var loss = CrossEntropy(parts[0], targets.clamp_max(f.CodeOffset));
        var subs = f.Split(targets);
        Tensor codeLoss = zeros_like(loss);
        for (int g = 0; g < subs.Length; g++) codeLoss = codeLoss + CrossEntropy(parts[g + 1], subs[g]);
        return loss + codeLoss * isCode.to(loss.dtype);
    }

    // Each target against its own modality: the rows with a visual target go through the code head(s) alone, the
    // others through the non-visual ids alone, so a visual position never pays for the text vocabulary; rows of
    // weight 0 go through neither.
    // In the shared layout a visual target is a text id: its code is its place among SharedCodeIds, and the other targets
    // are normalised over every id (the code ids are words there).
    Tensor ModalityLosses(Tensor hidden, Tensor targets, Tensor? weights, Tensor? visualTargets)
    {
        var h = hidden.reshape(-1, hidden.shape[^1]);
        var y = targets.reshape(-1);
        if (SharedCodeIds is not null && visualTargets is null)
            throw new ArgumentException("the shared layout needs the visual-target mask: a code's id is also a word's.",
                nameof(visualTargets));
        var isCode = visualTargets?.reshape(-1).to(@bool) ?? y.ge(VisualCodesFrom!.Value);
        int from = VisualCodesFrom ?? VocabSize;
        var counted = weights?.reshape(-1).ne(0);
        Tensor RowsWhere(Tensor mask) => (counted is null ? mask : mask.logical_and(counted)).nonzero().squeeze(1);
        var codeRows = RowsWhere(isCode);
        var otherRows = RowsWhere(isCode.logical_not());
        var losses = zeros(y.shape[0], dtype: hidden.dtype, device: hidden.device);
        if (otherRows.shape[0] > 0)
            losses = losses.index_copy(0, otherRows, PerRowCrossEntropy(NonVisualLogits(h.index_select(0, otherRows), from),
                y.index_select(0, otherRows)));
        if (codeRows.shape[0] > 0)
        {
            var hc = h.index_select(0, codeRows);
            var yc = y.index_select(0, codeRows);
            Tensor codeLoss;
            if (SharedCodeIds is { } shared)
            {
                var ids = tensor(shared.Select(i => (long)i).ToArray(), device: hidden.device);
                var codeOf = full(VocabSize, -1L, device: hidden.device).index_copy(0, ids, arange(shared.Count, device: hidden.device));
                var labels = codeOf.index_select(0, yc);
                if (labels.lt(0).any().item<bool>()) throw new ArgumentException("a visual target is not one of the shared code ids.",
                    nameof(targets));
                codeLoss = PerRowCrossEntropy(F.linear(hc, FlatWeight.index_select(0, ids)), labels);
            }
            else if (Factorization is not { } f) codeLoss = PerRowCrossEntropy(F.linear(hc, FlatWeight.narrow(0, from, VocabSize - from)),
                yc - from);
            else
            {
                var subs = f.Split(yc);
                codeLoss = PerRowCrossEntropy(groups![0].call(hc), subs[0]);
                for (int g = 1; g < subs.Length; g++) codeLoss = codeLoss + PerRowCrossEntropy(groups[g].call(hc), subs[g]);
            }
            losses = losses.index_copy(0, codeRows, codeLoss);
        }
        return losses.reshape(targets.shape);
    }

    // Cross-entropy of each row of logits [N, K] against its label [N], unreduced: the callers weight and average.
    static Tensor PerRowCrossEntropy(Tensor logits, Tensor labels) => F.cross_entropy(logits, labels, reduction: nn.Reduction.None);
}
