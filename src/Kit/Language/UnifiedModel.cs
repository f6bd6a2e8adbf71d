// The GPT over the unified vocabulary, with the three ways of showing it an image that the survey contrasts:
//   Tokens          discrete codes in and out, cross-entropy on both modalities (LaVIT, UniCode, CM3Leon);
//   Regression      continuous code embeddings in, the next embedding regressed with L2 (Emu);
//   PatchProjection raw pixel patches through one linear layer, understanding only (Fuyu, LLaVA's projector).
// With stacked codes (UniCode: D codes per position) a given image is read compressed, one position per code-map
// position whose input is the aggregate of its D codes' word embeddings: their sum (cumulative-sum stacking, whose
// codes add up to the latent) or their concatenation mapped back to d_model by a learned D·d → d layer (concatenation
// stacking, whose codes are slices of a D·d latent). An image asked for is written out code by code, D per position.
using System.Text.Json.Serialization;
using Kit.Core;
using Kit.Quantizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Language;

/// <summary>How images enter (and leave) the language model.</summary>
public enum VisualInterface { Tokens, Regression, PatchProjection }

/// <summary>A unified model: the GPT, its visual interface and the width of continuous visual features (0 for Tokens).</summary>
/// <param name="Gpt">The language model.</param>
/// <param name="Visual">How images enter and leave it.</param>
/// <param name="FeatureDim">Width of the continuous visual features (Regression, PatchProjection); 0 for Tokens.</param>
/// <param name="ImagePositions">
/// The most codes one image holds, for a learned embedding of where a visual position lies in its image (its k-th code),
/// added to its input (DALL·E's row/column embeddings, as one table); 0 = none. In unified sequences an image starts after
/// a caption of any length, so the sequence position alone does not say which code of the image a position holds.
/// </param>
/// <param name="ImageOpen">The [IMG] id: positions inside [IMG] … [/IMG] spans are visual, whatever their ids (−1: the model sees no
/// images).</param>
/// <param name="ImageClose">The [/IMG] id.</param>
/// <param name="Stack">Stacked codes (D codes per code-map position) and how a given image's D codes become one input; null: one code per
/// position.</param>
public sealed record UnifiedModelConfig(GptConfig Gpt, VisualInterface Visual = VisualInterface.Tokens, int FeatureDim = 0,
    int ImagePositions = 0,
    int ImageOpen = -1, int ImageClose = -1,
    // Left out of the cache keys when unset, so models of one code per position keep the keys they were stored under.
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] CodeStack? Stack = null)
{
    /// <summary>D, the codes per position (1 without a stack).</summary>
    [JsonIgnore] public int StackDepth => Stack?.Depth ?? 1;

    /// <summary>A model over <paramref name="vocabulary"/>'s ids: its [IMG] and [/IMG] mark the visual spans.</summary>
    public static UnifiedModelConfig For(UnifiedVocabulary vocabulary, GptConfig gpt, VisualInterface visual = VisualInterface.Tokens,
        int featureDim = 0, int imagePositions = 0) =>
        new(gpt, visual, featureDim, imagePositions, vocabulary[SpecialToken.Img], vocabulary[SpecialToken.EndImg]);

    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public UnifiedModelConfig Validate()
    {
        Gpt.Validate();
        if (Visual != VisualInterface.Tokens && FeatureDim < 1)
            throw new ArgumentException($"FeatureDim={FeatureDim}: the {Visual} interface needs the width of its visual features.",
                nameof(FeatureDim));
        if (ImagePositions < 0) throw new ArgumentException($"ImagePositions={ImagePositions}: expected ≥ 0 (0 = no image position " +
            $"embedding).", nameof(ImagePositions));
        if (ImagePositions > 0 && ImageOpen < 0)
            throw new ArgumentException($"ImagePositions={ImagePositions} needs ImageOpen and ImageClose, to find the images in a " +
                $"sequence.", nameof(ImagePositions));
        if ((ImageOpen < 0) != (ImageClose < 0) || ImageOpen >= Gpt.VocabSize || ImageClose >= Gpt.VocabSize || (ImageOpen >= 0
            && ImageOpen == ImageClose))
            throw new ArgumentException($"ImageOpen={ImageOpen}, ImageClose={ImageClose}: expected two distinct ids below " +
                $"{Gpt.VocabSize}, or both −1.", nameof(ImageOpen));
        if (Stack is { } stack && (stack.Depth < 2 || stack.Depth > 8))
            throw new ArgumentException($"Stack.Depth={stack.Depth}: expected 2 … 8 codes per position (one code per position: no Stack).",
                nameof(Stack));
        if (Stack is not null && Visual != VisualInterface.Tokens)
            throw new ArgumentException($"Stack (D={StackDepth}) needs the Tokens interface (stacked codes are discrete); got {Visual}.",
                nameof(Stack));
        return this;
    }
}

/// <summary>D codes per code-map position (a stacked tokenizer's), and how the model reads a given image's D codes as one input.</summary>
/// <param name="Depth">D ≥ 2.</param>
/// <param name="Aggregation">Sum of the D word embeddings (cumulative-sum stacking) or their concatenation mapped D·d → d (concatenation
/// stacking).</param>
public sealed record CodeStack(int Depth, StackAggregation Aggregation);

/// <summary>The losses of one batch.</summary>
public sealed record UnifiedLoss(Tensor Total, Tensor Text, Tensor Image);

/// <summary>GPT + visual interface.</summary>
public sealed class UnifiedModel : nn.Module
{
    readonly Gpt gpt;
    readonly Linear? visual_in;
    readonly Linear? visual_out;
    readonly Embedding? image_position;
    readonly Linear? stack_in;

    public UnifiedModel(UnifiedModelConfig config) : base(nameof(UnifiedModel))
    {
        Config = config.Validate();
        gpt = new Gpt(config.Gpt);
        if (config.Visual != VisualInterface.Tokens) visual_in = nn.Linear(config.FeatureDim, config.Gpt.Dim);
        if (config.Visual == VisualInterface.Regression) visual_out = nn.Linear(config.Gpt.Dim, config.FeatureDim);
        if (config.Stack?.Aggregation == StackAggregation.Concat) stack_in = nn.Linear(config.StackDepth * config.Gpt.Dim, config.Gpt.Dim);
        if (config.ImagePositions > 0)
        {
            image_position = nn.Embedding(config.ImagePositions, config.Gpt.Dim);
            using var noGrad = no_grad();
            nn.init.normal_(image_position.weight, 0, 0.02); // the scale of the GPT's own embeddings
        }
        RegisterComponents();
    }

    public UnifiedModelConfig Config { get; }

    /// <summary>The language model.</summary>
    public Gpt Gpt => gpt;

    /// <summary>Which positions of <paramref name="tokens"/> [B, T] are visual: inside [IMG] … [/IMG] spans (all false when the model sees
    /// no images).</summary>
    public Tensor VisualPositions(Tensor tokens) =>
        Config.ImageOpen >= 0 ? UnifiedVocabulary.VisualSpans(tokens, Config.ImageOpen, Config.ImageClose) : zeros_like(tokens,
            dtype: @bool);

    /// <summary>
    /// Where each marked position lies in its image [B, T]: the k-th visual position after an [IMG] is at k (a second image
    /// starts again at 0), clamped to the table; unmarked positions get 0, which nothing reads.
    /// </summary>
    public Tensor ImageIndex(Tensor visualInput) =>
        Config.ImagePositions == 0 ? zeros_like(visualInput,
            dtype: int64) : UnifiedVocabulary.PlaceInImage(visualInput).clamp_max(Config.ImagePositions - 1);

    /// <summary>
    /// Input embeddings [B, T, Dim]: token embeddings, with the positions marked in <paramref name="visualInput"/>
    /// replaced by projected <paramref name="features"/> [B, L, F] (row-major: the k-th marked position of a row
    /// takes that row's k-th feature) for the continuous interfaces; then, with <see cref="UnifiedModelConfig.ImagePositions"/>,
    /// each marked position gets the embedding of where it lies in its image (<paramref name="imageIndex"/> [B, T], by
    /// default <see cref="ImageIndex"/> of the mask; a cached generation step passes the index of its one new position).
    /// </summary>
    /// <remarks>
    /// <paramref name="stacks"/> [B, T, D] (stacked codes, D &gt; 1) holds the D code ids (vocabulary ids) of each
    /// position of a given image, −1 elsewhere: those positions take <see cref="Aggregate"/> of their codes instead of their token's
    /// embedding.
    /// </remarks>
    public Tensor Inputs(Tensor tokens, Tensor visualInput, Tensor? features, Tensor? imageIndex = null, Tensor? stacks = null)
    {
        var embedded = WithFeatures(tokens, visualInput, features);
        if (stacks is not null)
        {
            if (Config.Stack is null) throw new ArgumentException("stacked code inputs need a model built with a Stack (D > 1).",
                nameof(stacks));
            if (stacks.dim() != 3 || stacks.shape[0] != tokens.shape[0] || stacks.shape[1] != tokens.shape[1]
                || stacks.shape[2] != Config.StackDepth)
                throw new ArgumentException($"stacks must be [{tokens.shape[0]}, {tokens.shape[1]}, {Config.StackDepth}]; got " +
                    $"[{string.Join(", ", stacks.shape)}].", nameof(stacks));
            // Only the compressed positions are aggregated (a batch's text and drawn codes need no D rows, nor the map).
            var at = stacks.select(2, 0).ge(0).unsqueeze(-1);
            var codes = stacks.masked_select(at.expand_as(stacks)).reshape(-1, Config.StackDepth);
            embedded = embedded.masked_scatter(at.expand_as(embedded), Aggregate(codes));
        }
        if (image_position is null) return embedded;
        var where = image_position.call(imageIndex ?? ImageIndex(visualInput));
        return embedded + where * visualInput.unsqueeze(-1).to(where.dtype);
    }

    /// <summary>
    /// One input per position from its D codes' ids [.., D]: the sum of their word embeddings (cumulative sum) or their
    /// concatenation through the learned D·d → d map (concatenation) → [.., d].
    /// </summary>
    public Tensor Aggregate(Tensor codes)
    {
        if (codes.shape[^1] != Config.StackDepth)
            throw new ArgumentException($"codes must end in D={Config.StackDepth} ids; got [{string.Join(", ", codes.shape)}].",
                nameof(codes));
        var lead = codes.shape.Take((int)codes.dim() - 1).ToArray();
        var rows = gpt.Embed(codes.reshape(-1, (long)Config.StackDepth)); // [N, D, d]
        var joined = stack_in is null ? rows.sum(1) : stack_in.call(rows.reshape(rows.shape[0], -1));
        return joined.reshape(lead.Append((long)Config.Gpt.Dim).ToArray());
    }

    Tensor WithFeatures(Tensor tokens, Tensor visualInput, Tensor? features)
    {
        var embedded = gpt.Embed(tokens);
        if (Config.Visual == VisualInterface.Tokens) return embedded;
        var marked = visualInput.sum().item<long>(); // the one sync: whether there are image positions, and how many
        if (marked == 0) return embedded;
        if (features is null) throw new ArgumentException($"the {Config.Visual} interface needs visual features for the image positions.",
            nameof(features));
        if (features.dim() != 3 || features.shape[2] != Config.FeatureDim)
            throw new ArgumentException($"features must be [B, L, {Config.FeatureDim}]; got [{string.Join(", ", features.shape)}].",
                nameof(features));
        var projected = visual_in!.call(features);
        if (marked != projected.shape[0] * projected.shape[1])
            throw new ArgumentException($"{marked} image positions but {projected.shape[0]}×{projected.shape[1]} features.",
                nameof(features));
        return embedded.masked_scatter(visualInput.unsqueeze(-1).expand_as(embedded), projected);
    }

    /// <summary>The regression head's prediction of the next visual feature [.., F] (Regression interface only).</summary>
    public Tensor PredictFeature(Tensor hidden) => visual_out?.call(hidden)
        ?? throw new InvalidOperationException($"the {Config.Visual} interface has no regression head.");

    /// <summary>
    /// The head's logits of <paramref name="codeIds"/> (vocabulary ids) at every position of <paramref name="batch"/>, teacher-forced
    /// → [B, T, K]: what the model says of each code, for metrics that read a code's score (decompression accuracy).
    /// </summary>
    public Tensor CodeLogits(SequenceBatch batch, Tensor codeIds)
    {
        var device = gpt.parameters().First().device;
        var hidden = gpt.Hidden(Inputs(batch.Tokens.to(device), batch.VisualInput.to(device), null, stacks: batch.Stacks?.to(device)));
        return gpt.Head.Parts(hidden)[0].index_select(-1, codeIds.to(device));
    }

    /// <summary>
    /// Loss of a batch: weighted cross-entropy on text targets; on visual targets weighted cross-entropy (Tokens), weighted
    /// L2 to the next feature (Regression) or nothing (PatchProjection). <paramref name="features"/> are the rows' image
    /// features [B', L, F] for the rows that have an image, in row order.
    /// </summary>
    public UnifiedLoss Loss(SequenceBatch batch, Tensor? features = null)
    {
        var device = gpt.parameters().First().device;
        var tokens = batch.Tokens.to(device);
        var visualInput = batch.VisualInput.to(device);
        var visualTarget = batch.VisualTarget.to(device);
        features = features?.to(device);
        var hidden = gpt.Hidden(Inputs(tokens, visualInput, features, stacks: batch.Stacks?.to(device)));
        var weights = batch.Weights.to(device);
        var textWeights = weights * visualTarget.logical_not().to(float32);
        // Only the token interface scores visual targets with the head; the others skip them there, as every interface skips padding.
        var perToken = gpt.Head.TokenLosses(hidden, batch.Targets.to(device),
            Config.Visual == VisualInterface.Tokens ? weights : textWeights, visualTarget);
        var text = (perToken * textWeights).sum() / textWeights.sum().clamp_min(1);
        Tensor image;
        switch (Config.Visual)
        {
            case VisualInterface.Tokens:
                var imageWeights = weights * visualTarget.to(float32);
                image = (perToken * imageWeights).sum() / imageWeights.sum().clamp_min(1);
                return new UnifiedLoss((perToken * weights).sum() / weights.sum().clamp_min(1), text, image);
            case VisualInterface.Regression:
                if (!visualTarget.any().item<bool>()) image = zeros(1, device: device).squeeze();
                else
                {
                    var predicted = PredictFeature(hidden).masked_select(visualTarget.unsqueeze(-1)).reshape(-1, Config.FeatureDim);
                    var squaredError = (predicted - features!.reshape(-1, Config.FeatureDim)).square().mean(new long[] { -1 });
                    // Weighted like the token variant's codes (a given image can weigh 0); equal weights give the plain MSE.
                    var targetWeights = weights.masked_select(visualTarget);
                    image = (squaredError * targetWeights).sum() / targetWeights.sum().clamp_min(1e-6);
                }
                return new UnifiedLoss(text + image, text, image);
            default:
                return new UnifiedLoss(text, text, zeros(1, device: device).squeeze());
        }
    }
}
