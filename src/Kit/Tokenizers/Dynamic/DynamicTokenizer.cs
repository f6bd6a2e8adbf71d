// LaVIT's dynamic visual tokenizer (Jin et al., ICLR 2024, §3.1) over a frozen patch backbone: the selector keeps some
// patches, the merger folds the dropped ones into the kept, a Linear → Tanh → Linear lookup takes each kept token to
// 32 dimensions on the unit sphere where a cosine EMA codebook quantizes it (only the kept tokens: the quantizer's
// mask), and the feature decoder rebuilds all N backbone features from the kept codes in their order. So an image
// becomes as many codes as its selector kept. Two fixed-length variants share every other part, for the ablations:
// keep ratio 1 (every patch a token) and a pooled grid (g × g averages of the patches, a fixed budget). Pixels come
// from the kit's pixel decoder applied to the reconstructed features; LaVIT uses a diffusion model there.
using Kit.Backbones;
using Kit.Core;
using Kit.Quantizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Tokenizers.Dynamic;

/// <summary>The dynamic tokenizer's shape; with its training config and the backbone's key, the cache key.</summary>
/// <param name="KeepRatio">Target share ρ of patches kept (LaVIT: 1/3); 1 keeps every patch (no selector: the fixed-length
/// tokenizer).</param>
/// <param name="Merger">Fold the dropped tokens into the kept ones by cross-attention (off: the kept tokens' own features only).</param>
/// <param name="MergerLayers">Merger blocks (LaVIT: 12).</param>
/// <param name="DecoderLayers">Feature-decoder blocks (LaVIT: 12).</param>
/// <param name="Heads">Attention heads of merger and decoder.</param>
/// <param name="CodebookSize">Codes K (LaVIT: 16,384).</param>
/// <param name="CodeDim">Width of the cosine lookup (LaVIT: 32).</param>
/// <param name="RatioWeight">λ in λ (ρ − mean M)² (LaVIT: 2).</param>
/// <param name="PooledGrid">g &gt; 0: a fixed g × g grid of pooled patch features instead of selection (the same-budget baseline).</param>
/// <param name="DeadCodeThreshold">Restart codes whose moving use falls below this (the collapse users report).</param>
/// <param name="Width">Width of the merger's and decoder's streams (LaVIT: the ViT's); 0 = the backbone's. Narrower is
/// the CPU scales' way to train several tokenizers in one notebook: a block's cost grows with the width squared.</param>
public sealed record DynamicTokenizerConfig(double KeepRatio = 1.0 / 3, bool Merger = true, int MergerLayers = 2, int DecoderLayers = 2,
    int Heads = 4,
    int CodebookSize = 256, int CodeDim = 32, double RatioWeight = 2, int PooledGrid = 0, double DeadCodeThreshold = 1.0, int Width = 0)
{
    /// <summary>The streams' width over a backbone <paramref name="backboneDim"/> wide.</summary>
    public int WidthOver(int backboneDim) => Width == 0 ? backboneDim : Width;

    /// <summary>True when a selector decides which patches become tokens.</summary>
    public bool Selects => PooledGrid == 0 && KeepRatio < 1;

    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public DynamicTokenizerConfig Validate(int gridSide)
    {
        if (!(KeepRatio > 0 && KeepRatio <= 1)) throw new ArgumentException($"KeepRatio={KeepRatio}: expected 0 < ρ ≤ 1.",
            nameof(KeepRatio));
        if (PooledGrid < 0
            || PooledGrid > gridSide) throw new ArgumentException($"PooledGrid={PooledGrid}: expected 0 (select) or 1..{gridSide} (the " +
                $"backbone's grid side).", nameof(PooledGrid));
        if (MergerLayers < 1
            || DecoderLayers < 1) throw new ArgumentException($"MergerLayers={MergerLayers}, DecoderLayers={DecoderLayers}: expected " +
                $"at least 1 each.", nameof(MergerLayers));
        if (CodebookSize < 2) throw new ArgumentException($"CodebookSize={CodebookSize}: expected at least 2.", nameof(CodebookSize));
        if (CodeDim < 2) throw new ArgumentException($"CodeDim={CodeDim}: expected at least 2.", nameof(CodeDim));
        if (RatioWeight < 0) throw new ArgumentException($"RatioWeight={RatioWeight}: expected ≥ 0.", nameof(RatioWeight));
        if (Width < 0 || Heads < 1 || (Width > 0
            && Width % Heads != 0)) throw new ArgumentException($"Width={Width}, Heads={Heads}: expected Width 0 (the backbone's) or a " +
                $"positive multiple of Heads.", nameof(Width));
        return this;
    }

    /// <summary>A short name for tables.</summary>
    public string Describe() => PooledGrid > 0 ? $"fixed {PooledGrid}×{PooledGrid} pooled grid" : !Selects ? "every patch (ρ = 1)" :
        $"dynamic, ρ = {KeepRatio:0.###}{(Merger ? "" : ", no merger")}";
}

/// <summary>One forward pass: the reconstruction, the keep mask, the codes and the losses' parts.</summary>
/// <param name="Reconstructed">All N backbone features rebuilt [B, N, C].</param>
/// <param name="Keep">[B, T] float 1 = kept (T = N, or g² for a pooled grid); straight-through gradients while training.</param>
/// <param name="Indices">[B, T] code per kept token, −1 where dropped; null while the quantizer is off (phase 1).</param>
/// <param name="AuxLoss">The quantizer's commitment loss (0 while it is off).</param>
public sealed record DynamicOutput(Tensor Reconstructed, Tensor Keep, Tensor? Indices, Tensor AuxLoss);

/// <summary>Selector, merger, cosine VQ and feature decoder over a frozen backbone's patch features.</summary>
public sealed class DynamicTokenizer : nn.Module, IVisualTokenizer
{
    readonly TokenSelector selector;
    readonly TokenMerger merger;
    readonly Sequential lookup;
    readonly nn.Module<Tensor, Tensor> project;   // features → the streams' width (identity at the backbone's)
    readonly VectorQuantizer quantizer;
    readonly FeatureDecoder decoder;
    readonly Frozen frozen;

    // The backbone and pixel decoder this tokenizer reads and writes through: trained elsewhere and frozen, so kept out
    // of its modules (its checkpoint holds its own weights only).
    sealed record Frozen(IPatchBackbone Backbone, nn.Module<Tensor, Tensor>? Pixels);

    /// <param name="backbone">The frozen backbone whose patch features it tokenizes.</param>
    /// <param name="config">Its shape.</param>
    /// <param name="pixels">Features → images (the kit's pixel decoder); without it DecodeTokens cannot give images.</param>
    public DynamicTokenizer(IPatchBackbone backbone, DynamicTokenizerConfig config,
        nn.Module<Tensor, Tensor>? pixels = null) : base(nameof(DynamicTokenizer))
    {
        if (backbone.GridHeight != backbone.GridWidth) throw new ArgumentException($"a {backbone.GridHeight}×{backbone.GridWidth} " +
            $"grid: the tokenizer expects a square grid.", nameof(backbone));
        Config = config.Validate(backbone.GridHeight);
        int dim = backbone.Dim;
        Patches = backbone.GridHeight * backbone.GridWidth;
        selector = new TokenSelector(dim);
        int width = config.WidthOver(dim);
        if (width % config.Heads != 0) throw new ArgumentException($"the backbone's width {dim} is not a multiple of " +
            $"Heads={config.Heads}: set Width.", nameof(config));
        project = width == dim ? nn.Identity() : nn.Linear(dim, width);
        merger = new TokenMerger(width, config.MergerLayers, config.Heads, featureDim: dim);
        lookup = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, config.CodeDim));
        quantizer = new VectorQuantizer(config.CodeDim, config.CodebookSize, distance: CodeDistance.Cosine, update: CodebookUpdate.Ema,
            kmeansInit: true, deadCodeThreshold: config.DeadCodeThreshold, commitmentWeight: 0.25);
        decoder = new FeatureDecoder(Patches, dim, config.CodeDim, config.DecoderLayers, config.Heads, width);
        RegisterComponents();
        frozen = new Frozen(backbone, pixels);
    }

    public DynamicTokenizerConfig Config { get; }
    /// <summary>N, the backbone's patches per image.</summary>
    public int Patches { get; }
    /// <summary>The backbone it reads.</summary>
    public IPatchBackbone Backbone => frozen.Backbone;
    /// <summary>The selector (its parameters are frozen in phase 2 when training asks).</summary>
    public TokenSelector Selector => selector;
    /// <summary>The merger.</summary>
    public TokenMerger Merger => merger;

    /// <summary>The merger's last cross-attention weights [B, H, N, N] on patch features [B, N, C] under <paramref name="keep"/>, for
    /// pictures.</summary>
    public Tensor MergerCrossWeights(Tensor features, Tensor keep) => merger.CrossWeights(features, keep, project.call(features));
    /// <summary>The cosine vector quantizer (usage statistics, codebook).</summary>
    public VectorQuantizer Quantizer => quantizer;
    /// <summary>The feature decoder.</summary>
    public FeatureDecoder Decoder => decoder;

    /// <summary>Quantize the kept tokens (phase 2, and always once trained); off, the l2-normalised lookups pass as they are (phase
    /// 1).</summary>
    public bool Quantizing { get; set; } = true;

    /// <summary>Tokens per image before selection: N, or g² for a pooled grid.</summary>
    public int Slots => Config.PooledGrid > 0 ? Config.PooledGrid * Config.PooledGrid : Patches;

    /// <summary>The tokens [B, T, C] the selector and merger work on: the patch features, or their g × g pooled grid.</summary>
    public Tensor Tokens(Tensor features)
    {
        if (Config.PooledGrid == 0) return features;
        long b = features.shape[0], c = features.shape[2];
        int side = Backbone.GridHeight, g = Config.PooledGrid;
        var map = features.transpose(1, 2).reshape(b, c, side, side);
        return F.adaptive_avg_pool2d(map, new long[] { g, g }).flatten(2).transpose(1, 2);
    }

    /// <summary>The keep mask [B, T] of patch features [B, N, C]: the selector's (drawn by <paramref name="mode"/> outside training), or
    /// all ones without one.</summary>
    public Tensor Keep(Tensor features, SelectionMode mode = SelectionMode.Deterministic, Generator? generator = null) =>
        Config.Selects ? selector.Mask(features, mode, generator) : ones(features.shape[0], Slots, dtype: features.dtype,
            device: features.device);

    /// <summary>
    /// The patches a keep mask [B, T] stands for, [B, N] bool: the kept patches themselves, or every patch for a pooled grid
    /// (each of its g² tokens pools a block of patches, and all are kept).
    /// </summary>
    public Tensor PatchKeep(Tensor keep) =>
        Config.PooledGrid > 0 ? ones(keep.shape[0], Patches, dtype: @bool, device: keep.device) : keep.gt(0.5);

    /// <summary>The whole tokenizer on patch features [B, N, C], the keep mask drawn by <paramref name="mode"/> outside training.</summary>
    public DynamicOutput Forward(Tensor features, SelectionMode mode = SelectionMode.Deterministic, Generator? generator = null)
    {
        if (features.dim() != 3 || features.shape[1] != Patches || features.shape[2] != Backbone.Dim)
            throw new ArgumentException($"features must be [B, {Patches}, {Backbone.Dim}]; got [{string.Join(", ", features.shape)}].",
                nameof(features));
        var keep = Keep(features, mode, generator);
        var tokens = project.call(Tokens(features));
        if (Config.Selects && Config.Merger) tokens = merger.Forward(features, keep, tokens);
        var z = F.normalize(lookup.call(tokens), dim: -1);
        Tensor? indices = null;
        Tensor aux = zeros(1, device: features.device).squeeze();
        if (Quantizing)
        {
            var q = quantizer.Quantize(z, keep.detach().gt(0.5));
            z = q.Quantized; indices = q.Indices; aux = q.AuxLoss;
        }
        return new DynamicOutput(decoder.Forward(z, keep), keep, indices, aux);
    }

    /// <summary>
    /// The training loss: mean over patches of 1 − cos(x̂, x), plus λ (ρ − mean M)² over the batch (with a selector), plus the
    /// quantizer's commitment term; and its parts for the log.
    /// </summary>
    public (Tensor Loss, Dictionary<string, Tensor> Parts) Loss(DynamicOutput output, Tensor features)
    {
        var feature = FeatureDecoder.Loss(output.Reconstructed, features);
        var kept = output.Keep.mean();
        var ratio = Config.Selects ? (kept - Config.KeepRatio).pow(2) : zeros_like(feature);
        var loss = feature + Config.RatioWeight * ratio + output.AuxLoss;
        return (loss, new Dictionary<string, Tensor> { ["feature"] = feature.detach(), ["kept"] = kept.detach(),
            ["vq"] = output.AuxLoss.detach() });
    }

    // —— IVisualTokenizer: images in, each image its own number of codes ——

    public long CodebookSize => Config.CodebookSize;
    public int MinCodesPerImage => Config.Selects ? 1 : Slots;
    public int MaxCodesPerImage => Slots;
    public int ImageSize => Backbone.ImageSize;

    /// <summary>The kept tokens' codes of patch features [B, N, C], each image's in patch order, selected by
    /// <paramref name="mode"/>.</summary>
    public VisualCodes EncodeFeatures(Tensor features, SelectionMode mode = SelectionMode.Deterministic)
    {
        using var noGrad = no_grad();
        bool quantizing = Quantizing;
        Quantizing = true;
        try
        {
            var indices = Forward(features, mode).Indices!.cpu();
            var all = indices.data<long>().ToArray();
            long t = indices.shape[1];
            var rows = Enumerable.Range(0, (int)indices.shape[0]).Select(i => all.AsSpan((int)(i * t),
                (int)t).ToArray().Where(c => c >= 0).ToArray()).ToList();
            return VisualCodes.FromRows(rows, features.device);
        }
        finally { Quantizing = quantizing; }
    }

    public VisualCodes EncodeTokens(Tensor images)
    {
        using var noGrad = no_grad();
        return EncodeFeatures(Backbone.PatchFeatures(images));
    }

    /// <summary>The N backbone features [B, N, C] rebuilt from codes of any lengths between the bounds.</summary>
    public Tensor DecodeFeatures(VisualCodes codes)
    {
        for (int i = 0; i < codes.Count; i++)
            if (codes.Lengths[i] < MinCodesPerImage || codes.Lengths[i] > MaxCodesPerImage)
                throw new ArgumentException($"image {i} has {codes.Lengths[i]} codes; this tokenizer decodes " +
                    $"{MinCodesPerImage}..{MaxCodesPerImage} per image.", nameof(codes));
        using var noGrad = no_grad();
        var device = quantizer.Codes.device;
        var padded = codes.Codes.to(device);
        var packed = quantizer.Lookup(padded.clamp_min(0));   // [B, L, CodeDim]; padding slots weigh 0 below
        return decoder.Decode(packed, padded.ge(0).to(packed.dtype));
    }

    public Tensor DecodeTokens(VisualCodes codes)
    {
        var pixels = frozen.Pixels
            ?? throw new InvalidOperationException("this tokenizer was built without a pixel decoder, so it can only give features " +
                "(DecodeFeatures).");
        using var noGrad = no_grad();
        return pixels.call(DecodeFeatures(codes)).clamp(-1, 1);
    }
}
