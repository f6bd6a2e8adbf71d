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
/// <param name="ImagePositions">
/// Positions of one image (h×w) for a learned embedding of where a visual position lies in its image, added to its
/// input (DALL·E's row/column embeddings, as one table); 0 = none. In unified sequences an image starts after a caption
/// of any length, so the sequence position alone does not say which row and column a code is at. Needs
/// <see cref="GptConfig.VisualCodesFrom"/> to tell generated codes from text.
/// </param>
public sealed record UnifiedModelConfig(GptConfig Gpt, VisualInterface Visual = VisualInterface.Tokens, int FeatureDim = 0, int ImagePositions = 0)
{
    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public UnifiedModelConfig Validate()
    {
        Gpt.Validate();
        if (Visual != VisualInterface.Tokens && FeatureDim < 1)
            throw new ArgumentException($"FeatureDim={FeatureDim}: the {Visual} interface needs the width of its visual features.", nameof(FeatureDim));
        if (ImagePositions < 0) throw new ArgumentException($"ImagePositions={ImagePositions}: expected ≥ 0 (0 = no image position embedding).", nameof(ImagePositions));
        if (ImagePositions > 0 && Gpt.VisualCodesFrom is null)
            throw new ArgumentException($"ImagePositions={ImagePositions} needs Gpt.VisualCodesFrom, to tell visual codes from text.", nameof(ImagePositions));
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

    /// <summary>
    /// Version of <see cref="Loss"/>, part of every cached unified model's key: it changes whenever the same batch would
    /// train differently (2: the regression loss weighs visual targets like the token loss, so a given image can weigh 0).
    /// </summary>
    public const int LossFormat = 2;

    /// <summary>The language model.</summary>
    public Gpt Gpt => gpt;

    /// <summary>Which ids are visual codes [B, T] (all false when the GPT does not mark where codes start).</summary>
    public Tensor IsVisualCode(Tensor tokens) => Config.Gpt.VisualCodesFrom is int from ? tokens.ge(from) : zeros_like(tokens, dtype: @bool);

    /// <summary>
    /// Where each marked position lies in its image [B, T]: the k-th marked position of a row is at k (mod h×w, so a
    /// second image in a row starts again at 0); unmarked positions get some index that nothing reads.
    /// </summary>
    public Tensor ImageIndex(Tensor visualInput) =>
        Config.ImagePositions == 0 ? zeros_like(visualInput, dtype: int64) : (visualInput.to(int64).cumsum(1) - 1).clamp_min(0).remainder(Config.ImagePositions);

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
        var perToken = gpt.Head.TokenLosses(hidden, batch.Targets.to(device), Config.Visual == VisualInterface.Tokens ? weights : textWeights);
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
