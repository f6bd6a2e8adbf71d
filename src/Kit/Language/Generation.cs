// Autoregressive decoding for the unified model: prompts of different lengths are left-padded (masked, and
// positions count real tokens only), the prefix is run once and each new token costs one position through the
// KV cache (or, for comparison, the whole sequence is recomputed every step); classifier-free guidance runs the
// unconditional prompts in the same batch; the constraint keeps image blocks well formed.
using Kit.Core;
using static TorchSharp.torch;

namespace Kit.Language;

/// <summary>Sequence generation with the unified model.</summary>
public static class Generation
{
    /// <summary>
    /// Continues each prompt until the constraint finishes it or <paramref name="maxNewTokens"/> are made; returns
    /// only the new ids of each row (its final [EOS] included). <paramref name="unconditional"/> prompts (one per
    /// row) are used when options.Guidance ≠ 1. <paramref name="promptFeatures"/> [B, L, F] fill the image
    /// positions of the prompts for continuous visual interfaces; <paramref name="promptStacks"/> [B, L, D] (stacked codes)
    /// give the D code ids of each compressed image position of the prompts, laid out like features.
    /// </summary>
    public static List<int[]> Generate(UnifiedModel model, IReadOnlyList<int[]> prompts, int maxNewTokens, SamplingOptions options,
        DecodingConstraint constraint, IReadOnlyList<int[]>? unconditional = null, Tensor? promptFeatures = null, bool useCache = true,
            Tensor? promptStacks = null)
    {
        if (promptFeatures is not null && promptStacks is not null)
            throw new ArgumentException("a prompt's image comes as features or as stacked codes, not both.", nameof(promptStacks));
        options.Validate();
        bool guided = options.Guidance != 1;
        if (guided && (unconditional is null || unconditional.Count != prompts.Count))
            throw new ArgumentException($"Guidance={options.Guidance} needs one unconditional prompt per prompt.", nameof(unconditional));
        int b = prompts.Count;
        var rows = guided ? prompts.Concat(unconditional!).ToList() : prompts.ToList();
        // A sequence that never finishes stops at the context's end (an untrained model need never say [EOS]).
        int room = model.Gpt.Config.ContextLength - rows.Max(r => r.Length);
        if (room < 1) throw new ArgumentException($"a prompt of {rows.Max(r => r.Length)} tokens leaves no room in the context of " +
            $"{model.Gpt.Config.ContextLength}.", nameof(prompts));
        maxNewTokens = Math.Min(maxNewTokens, room);
        var device = model.parameters().First().device;
        var generator = new Generator((ulong)options.Seed, device);
        var produced = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var head = model.Gpt.Head;
        using var cache = useCache ? new KvCache(model.Gpt.Config.Layers, model.Gpt.Config.ContextLength) : null;
        var (tokens, keyMask) = LeftPad(rows, device);
        var features = promptFeatures is null ? null : guided ? cat(new[] { promptFeatures, promptFeatures }, 0) : promptFeatures;
        var stacked = promptStacks is null ? null : guided ? cat(new[] { promptStacks, promptStacks }, 0) : promptStacks;
        model.eval();
        using var noGrad = no_grad();
        for (int step = 0; step < maxNewTokens && !constraint.AllFinished; step++)
        {
            long[] chosen = Scopes.Step(() =>
            {
                Tensor hidden;
                if (useCache && step > 0) hidden = model.Gpt.Hidden(NewTokenInputs(model, tokens, keyMask), cache, ones(rows.Count, 1,
                    dtype: @bool, device: device));
                else
                {
                    // Image positions of the prompt take their features (only the prompt part can hold image positions);
                    // with discrete codes they are the code ids themselves.
                    var visual = features is null ? model.VisualPositions(tokens).logical_and(keyMask) : FeaturePositions(tokens, keyMask,
                        features.shape[1]);
                    Tensor? stacks = null;
                    if (stacked is not null)
                    {
                        // The compressed positions sit where features would: the L positions after [BOS] [IMG].
                        var at = FeaturePositions(tokens, keyMask, stacked.shape[1]).unsqueeze(-1).expand(-1, -1, stacked.shape[2]);
                        stacks = full(tokens.shape[0], tokens.shape[1], stacked.shape[2], -1L, dtype: int64,
                            device: device).masked_scatter(at, stacked.to(device));
                    }
                    var inputs = model.Inputs(tokens, visual, features, stacks: stacks);
                    hidden = model.Gpt.Hidden(inputs, cache, keyMask);
                }
                var last = hidden.select(1, hidden.shape[1] - 1);
                var allowed = constraint.Allowed();
                return Choose(head, last, b, guided, options, allowed, generator).data<long>().ToArray();
            });
            for (int row = 0; row < b; row++) if (!constraint.Finished(row)) produced[row].Add((int)chosen[row]);
            constraint.Advance(chosen);
            var next = tensor(guided ? chosen.Concat(chosen).ToArray() : chosen, device: device).unsqueeze(1);
            var (oldTokens, oldMask) = (tokens, keyMask);
            tokens = cat(new[] { tokens, next }, 1);
            keyMask = cat(new[] { keyMask, ones(rows.Count, 1, dtype: @bool, device: device) }, 1);
            oldTokens.Dispose(); oldMask.Dispose(); next.Dispose();
        }
        tokens.Dispose(); keyMask.Dispose();
        return produced.Select(p => p.ToArray()).ToList();
    }

    // Inputs of the one new (last) token of a cached step: its embedding and, when the model embeds image positions and
    // the token is a code, where it lies in its image — counted over the whole row, as a recomputation would.
    static Tensor NewTokenInputs(UnifiedModel model, Tensor tokens, Tensor keyMask)
    {
        long t = tokens.shape[1];
        var last = tokens.narrow(1, t - 1, 1);
        if (model.Config.ImagePositions == 0) return model.Gpt.Embed(last);
        var visual = model.VisualPositions(tokens).logical_and(keyMask);
        return model.Inputs(last, visual.narrow(1, t - 1, 1), null, model.ImageIndex(visual).narrow(1, t - 1, 1));
    }

    // The prompt positions fed by features: callers build prompts as [BOS] [IMG] codes …, so the image is the L real
    // positions after [IMG].
    static Tensor FeaturePositions(Tensor tokens, Tensor keyMask, long length)
    {
        long b = tokens.shape[0], t = tokens.shape[1];
        var real = keyMask.cpu().data<bool>().ToArray(); // one copy, not one sync per element
        var mask = new bool[b * t];
        for (long row = 0; row < b; row++)
        {
            long first = Enumerable.Range(0, (int)t).Select(i => (long)i).FirstOrDefault(i => real[row * t + i], -1);
            long start = first + 2; // after [BOS] [IMG]
            if (first < 0 || start
                + length > t) throw new ArgumentException("prompt features need prompts of the form [BOS] [IMG] codes [/IMG] ….");
            for (long i = start; i < start + length; i++) mask[row * t + i] = true;
        }
        return tensor(mask, new long[] { b, t }, device: keyMask.device);
    }

    static Tensor Choose(TokenHead head, Tensor last, int b, bool guided, SamplingOptions options, Tensor allowed, Generator generator)
    {
        var parts = head.Parts(last);
        if (guided) parts = parts.Select(p => Sampling.Guide(p.narrow(0, 0, b), p.narrow(0, b, b), options.Guidance)).ToArray();
        if (head.Factorization is not { } f) return Sampling.Pick(parts[0], options, allowed.to(parts[0].device), generator);
        // Factorized: choose among the non-visual ids and "a visual code"; then each sub-index; join them.
        var allowedBase = cat(new[] { allowed.narrow(1, 0, f.CodeOffset), allowed.narrow(1, f.CodeOffset, f.CodebookSize).any(1,
            keepdim: true) }, 1);
        var kind = Sampling.Pick(parts[0], options, allowedBase.to(parts[0].device), generator);
        var subs = parts.Skip(1).Select(p => Sampling.Pick(p, options, null, generator)).ToList();
        return where(kind.eq(f.CodeOffset), f.Join(subs), kind);
    }

    /// <summary>Left-pads id rows to one length: tokens [B, T] (padding = 0) and the real-token mask [B, T].</summary>
    public static (Tensor Tokens, Tensor KeyMask) LeftPad(IReadOnlyList<int[]> rows, Device? device = null)
    {
        if (rows.Count == 0 || rows.Any(r => r.Length == 0)) throw new ArgumentException("every prompt needs at least one token.",
            nameof(rows));
        int t = rows.Max(r => r.Length);
        var ids = new long[rows.Count * t];
        var mask = new bool[rows.Count * t];
        for (int r = 0; r < rows.Count; r++)
            for (int i = 0; i < rows[r].Length; i++) { ids[r * t + t - rows[r].Length + i] = rows[r][i]; mask[r * t
                + t - rows[r].Length + i] = true; }
        return (tensor(ids, new long[] { rows.Count, t }, device: device), tensor(mask, new long[] { rows.Count, t }, device: device));
    }

    /// <summary>
    /// Regression interface (Emu-style): from text prompts ending in [IMG], predicts <paramref name="length"/> visual
    /// features one after another, feeding each prediction back in. Returns [B, length, F].
    /// </summary>
    public static Tensor GenerateFeatures(UnifiedModel model, IReadOnlyList<int[]> prompts, int length,
        IReadOnlyList<int[]>? unconditional = null, double guidance = 1.0)
    {
        if (model.Config.Visual != VisualInterface.Regression) throw new InvalidOperationException($"feature generation needs the " +
            $"Regression interface, not {model.Config.Visual}.");
        bool guided = guidance != 1;
        var rows = guided ? prompts.Concat(unconditional ?? throw new ArgumentException("guidance needs unconditional prompts.",
            nameof(unconditional))).ToList() : prompts.ToList();
        int b = prompts.Count;
        var device = model.parameters().First().device;
        model.eval();
        using var noGrad = no_grad();
        using var cache = new KvCache(model.Gpt.Config.Layers, model.Gpt.Config.ContextLength);
        using var scope = NewDisposeScope();
        var (tokens, keyMask) = LeftPad(rows, device);
        var outputs = new List<Tensor>();
        var hidden = model.Gpt.Hidden(model.Gpt.Embed(tokens), cache, keyMask);
        for (int i = 0; i < length; i++)
        {
            var predicted = model.PredictFeature(hidden.select(1, hidden.shape[1] - 1));          // [rows, F]
            if (guided) predicted = Sampling.Guide(predicted.narrow(0, 0, b), predicted.narrow(0, b, b), guidance);
            outputs.Add(predicted);
            if (i == length - 1) break;
            var fed = guided ? cat(new[] { predicted, predicted }, 0) : predicted;
            // The fed prediction is the image's i-th position.
            var inputs = model.Inputs(zeros(rows.Count, 1, dtype: int64, device: device), ones(rows.Count, 1, dtype: @bool, device: device),
                fed.unsqueeze(1),
                full(rows.Count, 1, i % Math.Max(1, model.Config.ImagePositions), dtype: int64, device: device));
            hidden = model.Gpt.Hidden(inputs, cache, ones(rows.Count, 1, dtype: @bool, device: device));
        }
        return stack(outputs, 1).MoveToOuterDisposeScope();
    }
}
