// The GPT over the unified vocabulary, with the three ways of showing it an image that the survey contrasts:
//   Tokens          discrete codes in and out, cross-entropy on both modalities (LaVIT, UniCode, CM3Leon);
//   Regression      continuous code embeddings in, the next embedding regressed with L2 (Emu);
//   PatchProjection raw pixel patches through one linear layer, understanding only (Fuyu, LLaVA's projector).
using Kit.Core;
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
/// <param name="ImageOpen">The [IMG] id: positions inside [IMG] … [/IMG] spans are visual, whatever their ids (−1: the model sees no images).</param>
/// <param name="ImageClose">The [/IMG] id.</param>
public sealed record UnifiedModelConfig(GptConfig Gpt, VisualInterface Visual = VisualInterface.Tokens, int FeatureDim = 0, int ImagePositions = 0,
    int ImageOpen = -1, int ImageClose = -1)
{
    /// <summary>A model over <paramref name="vocabulary"/>'s ids: its [IMG] and [/IMG] mark the visual spans.</summary>
    public static UnifiedModelConfig For(UnifiedVocabulary vocabulary, GptConfig gpt, VisualInterface visual = VisualInterface.Tokens, int featureDim = 0, int imagePositions = 0) =>
        new(gpt, visual, featureDim, imagePositions, vocabulary[SpecialToken.Img], vocabulary[SpecialToken.EndImg]);

    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public UnifiedModelConfig Validate()
    {
        Gpt.Validate();
        if (Visual != VisualInterface.Tokens && FeatureDim < 1)
            throw new ArgumentException($"FeatureDim={FeatureDim}: the {Visual} interface needs the width of its visual features.", nameof(FeatureDim));
        if (ImagePositions < 0) throw new ArgumentException($"ImagePositions={ImagePositions}: expected ≥ 0 (0 = no image position embedding).", nameof(ImagePositions));
        if (ImagePositions > 0 && ImageOpen < 0)
            throw new ArgumentException($"ImagePositions={ImagePositions} needs ImageOpen and ImageClose, to find the images in a sequence.", nameof(ImagePositions));
        if ((ImageOpen < 0) != (ImageClose < 0) || ImageOpen >= Gpt.VocabSize || ImageClose >= Gpt.VocabSize || (ImageOpen >= 0 && ImageOpen == ImageClose))
            throw new ArgumentException($"ImageOpen={ImageOpen}, ImageClose={ImageClose}: expected two distinct ids below {Gpt.VocabSize}, or both −1.", nameof(ImageOpen));
        return this;
    }
}

/// <summary>The losses of one batch.</summary>
public sealed record UnifiedLoss(Tensor Total, Tensor Text, Tensor Image);

/// <summary>GPT + visual interface.</summary>
public sealed class UnifiedModel : nn.Module
{
    readonly Gpt gpt;
    readonly Linear? visual_in;
    readonly Linear? visual_out;
    readonly Embedding? image_position;

    public UnifiedModel(UnifiedModelConfig config) : base(nameof(UnifiedModel))
    {
        Config = config.Validate();
        gpt = new Gpt(config.Gpt);
        if (config.Visual != VisualInterface.Tokens) visual_in = nn.Linear(config.FeatureDim, config.Gpt.Dim);
        if (config.Visual == VisualInterface.Regression) visual_out = nn.Linear(config.Gpt.Dim, config.FeatureDim);
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

    /// <summary>Which positions of <paramref name="tokens"/> [B, T] are visual: inside [IMG] … [/IMG] spans (all false when the model sees no images).</summary>
    public Tensor VisualPositions(Tensor tokens) =>
        Config.ImageOpen >= 0 ? UnifiedVocabulary.VisualSpans(tokens, Config.ImageOpen, Config.ImageClose) : zeros_like(tokens, dtype: @bool);

    /// <summary>
    /// Where each marked position lies in its image [B, T]: the k-th visual position after an [IMG] is at k (a second image
    /// starts again at 0), clamped to the table; unmarked positions get 0, which nothing reads.
    /// </summary>
    public Tensor ImageIndex(Tensor visualInput) =>
        Config.ImagePositions == 0 ? zeros_like(visualInput, dtype: int64) : UnifiedVocabulary.PlaceInImage(visualInput).clamp_max(Config.ImagePositions - 1);

    /// <summary>
    /// Input embeddings [B, T, Dim]: token embeddings, with the positions marked in <paramref name="visualInput"/>
    /// replaced by projected <paramref name="features"/> [B, L, F] (row-major: the k-th marked position of a row
    /// takes that row's k-th feature) for the continuous interfaces; then, with <see cref="UnifiedModelConfig.ImagePositions"/>,
    /// each marked position gets the embedding of where it lies in its image (<paramref name="imageIndex"/> [B, T], by
    /// default <see cref="ImageIndex"/> of the mask; a cached generation step passes the index of its one new position).
    /// </summary>
    public Tensor Inputs(Tensor tokens, Tensor visualInput, Tensor? features, Tensor? imageIndex = null)
    {
        var embedded = WithFeatures(tokens, visualInput, features);
        if (image_position is null) return embedded;
        var where = image_position.call(imageIndex ?? ImageIndex(visualInput));
        return embedded + where * visualInput.unsqueeze(-1).to(where.dtype);
    }

    Tensor WithFeatures(Tensor tokens, Tensor visualInput, Tensor? features)
    {
        var embedded = gpt.Embed(tokens);
        if (Config.Visual == VisualInterface.Tokens) return embedded;
        var marked = visualInput.sum().item<long>(); // the one sync: whether there are image positions, and how many
        if (marked == 0) return embedded;
        if (features is null) throw new ArgumentException($"the {Config.Visual} interface needs visual features for the image positions.", nameof(features));
        if (features.dim() != 3 || features.shape[2] != Config.FeatureDim)
            throw new ArgumentException($"features must be [B, L, {Config.FeatureDim}]; got [{string.Join(", ", features.shape)}].", nameof(features));
        var projected = visual_in!.call(features);
        if (marked != projected.shape[0] * projected.shape[1])
            throw new ArgumentException($"{marked} image positions but {projected.shape[0]}×{projected.shape[1]} features.", nameof(features));
        return embedded.masked_scatter(visualInput.unsqueeze(-1).expand_as(embedded), projected);
    }

    /// <summary>The regression head's prediction of the next visual feature [.., F] (Regression interface only).</summary>
    public Tensor PredictFeature(Tensor hidden) => visual_out?.call(hidden)
        ?? throw new InvalidOperationException($"the {Config.Visual} interface has no regression head.");

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
        var hidden = gpt.Hidden(Inputs(tokens, visualInput, features));
        var weights = batch.Weights.to(device);
        var textWeights = weights * visualTarget.logical_not().to(float32);
        // Only the token interface scores visual targets with the head; the others skip them there, as every interface skips padding.
        var perToken = gpt.Head.TokenLosses(hidden, batch.Targets.to(device), Config.Visual == VisualInterface.Tokens ? weights : textWeights, visualTarget);
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
