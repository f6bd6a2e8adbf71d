// An image tokenizer: convolutional encoder → any quantizer → convolutional decoder (VQ-VAE / VQGAN /
// MAGVIT-v2 family). Encode(image) gives codes, Decode(codes) gives an image: the calls the language-model
// notebooks build on.
using Kit.Core;
using Kit.Quantizers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Tokenizers;

/// <summary>Shape of the encoder and decoder; every knob has a small default that trains on a CPU.</summary>
/// <param name="ImageChannels">3 for RGB, 1 for grey images.</param>
/// <param name="Channels">Width at full resolution.</param>
/// <param name="ChannelMultipliers">One entry per downsampling step (the factor is 2^count); widths are Channels × multiplier.</param>
/// <param name="ResBlocks">Residual blocks per resolution.</param>
/// <param name="LatentDim">Feature dimension handed to the quantizer (its Dim).</param>
/// <param name="Groups">GroupNorm groups.</param>
/// <param name="PreQuantNorm">GroupNorm without affine parameters right before the quantizer (MAGVIT-v2's recipe for LFQ).</param>
public sealed record TokenizerConfig(int ImageChannels = 3, int Channels = 32, int[]? ChannelMultipliers = null, int ResBlocks = 1,
    int LatentDim = 16, int Groups = 8, bool PreQuantNorm = false)
{
    /// <summary>Multipliers in effect ([1, 2] when none are given: 4× downsampling).</summary>
    public int[] Multipliers => ChannelMultipliers ?? new[] { 1, 2 };
    /// <summary>Image side ÷ code-map side.</summary>
    public int DownsampleFactor => 1 << Multipliers.Length;
}

/// <summary>Maps images [B, C, H, W] to features [B, LatentDim, H/f, W/f].</summary>
public sealed class ConvEncoder : nn.Module<Tensor, Tensor>
{
    readonly TorchSharp.Modules.Sequential body;

    public ConvEncoder(TokenizerConfig c) : base(nameof(ConvEncoder))
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        long width = c.Channels * c.Multipliers[0];
        layers.Add(("conv_in", nn.Conv2d(c.ImageChannels, width, 3, padding: 1)));
        for (int level = 0; level < c.Multipliers.Length; level++)
        {
            long next = c.Channels * c.Multipliers[level];
            for (int r = 0; r < c.ResBlocks; r++) { layers.Add(($"res{level}_{r}", new ResBlock(width, next, c.Groups))); width = next; }
            layers.Add(($"down{level}", new Downsample(width)));
        }
        layers.Add(("res_mid", new ResBlock(width, width, c.Groups)));
        layers.Add(("norm_out", Layers.GroupNorm(ResBlock.Groups(c.Groups, width), width)));
        layers.Add(("act_out", nn.SiLU()));
        layers.Add(("conv_out", nn.Conv2d(width, c.LatentDim, 1)));
        if (c.PreQuantNorm) layers.Add(("prequant_norm", Layers.GroupNorm(ResBlock.Groups(c.Groups, c.LatentDim), c.LatentDim,
            affine: false)));
        body = nn.Sequential(layers);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => body.forward(x);
}

/// <summary>Maps features [B, LatentDim, h, w] back to images [B, C, h·f, w·f].</summary>
public sealed class ConvDecoder : nn.Module<Tensor, Tensor>
{
    readonly TorchSharp.Modules.Sequential body;

    public ConvDecoder(TokenizerConfig c) : base(nameof(ConvDecoder))
    {
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        long width = c.Channels * c.Multipliers[^1];
        layers.Add(("conv_in", nn.Conv2d(c.LatentDim, width, 3, padding: 1)));
        layers.Add(("res_mid", new ResBlock(width, width, c.Groups)));
        for (int level = c.Multipliers.Length - 1; level >= 0; level--)
        {
            long next = c.Channels * c.Multipliers[Math.Max(0, level - 1)];
            layers.Add(($"up{level}", new DepthToSpaceUpsample(width, next)));
            width = next;
            for (int r = 0; r < c.ResBlocks; r++) layers.Add(($"res{level}_{r}", new ResBlock(width, width, c.Groups)));
        }
        layers.Add(("norm_out", Layers.GroupNorm(ResBlock.Groups(c.Groups, width), width)));
        layers.Add(("act_out", nn.SiLU()));
        layers.Add(("conv_out", nn.Conv2d(width, c.ImageChannels, 3, padding: 1)));
        body = nn.Sequential(layers);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => body.forward(x);
}

/// <summary>What the tokenizer returns for a batch.</summary>
public sealed record TokenizerOutput(Tensor Reconstruction, QuantizerOutput Quantization);

/// <summary>Encoder → quantizer → decoder.</summary>
public sealed class ImageTokenizer : nn.Module<Tensor, TokenizerOutput>, IVisualTokenizer
{
    readonly ConvEncoder encoder;
    readonly Quantizer quantizer;
    readonly ConvDecoder decoder;

    /// <param name="config">Encoder and decoder shape.</param>
    /// <param name="quantizer">Any quantizer taking LatentDim features.</param>
    /// <param name="imageSize">The image side it tokenizes (the number of codes per image follows from it).</param>
    public ImageTokenizer(TokenizerConfig config, Quantizer quantizer, int imageSize = 32) : base(nameof(ImageTokenizer))
    {
        if (quantizer.Dim != config.LatentDim)
            throw new ArgumentException($"the quantizer takes {quantizer.Dim} features but LatentDim={config.LatentDim}; make them equal.",
                nameof(quantizer));
        if (imageSize < config.DownsampleFactor || imageSize % config.DownsampleFactor != 0)
            throw new ArgumentException($"imageSize={imageSize} must be a multiple of the downsampling factor {config.DownsampleFactor}.",
                nameof(imageSize));
        Config = config;
        ImageSize = imageSize;
        encoder = new ConvEncoder(config);
        this.quantizer = quantizer;
        decoder = new ConvDecoder(config);
        RegisterComponents();
    }

    public TokenizerConfig Config { get; }
    public Quantizer Quantizer => quantizer;
    /// <summary>The image side it tokenizes.</summary>
    public int ImageSize { get; }
    public long CodebookSize => quantizer.CodebookSize;
    /// <summary>Codes per image: every image takes the same number.</summary>
    public int CodesPerImage => (int)quantizer.CodesFor(CodeMapSize(ImageSize), CodeMapSize(ImageSize));
    int IVisualTokenizer.MinCodesPerImage => CodesPerImage;
    int IVisualTokenizer.MaxCodesPerImage => CodesPerImage;

    /// <summary>Codes in raster order (stacked quantizers: layers innermost), CodesPerImage per image.</summary>
    public VisualCodes EncodeTokens(Tensor images) => VisualCodes.Fixed(Encode(images).reshape(images.shape[0], -1));

    /// <summary>Images decoded from codes of CodesPerImage each.</summary>
    public Tensor DecodeTokens(VisualCodes codes)
    {
        if (codes.Lengths.Any(n => n != CodesPerImage))
            throw new ArgumentException($"this tokenizer decodes {CodesPerImage} codes per image; got lengths " +
                $"{string.Join(", ", codes.Lengths.Distinct())}.", nameof(codes));
        int side = CodeMapSize(ImageSize);
        var device = parameters().First().device;
        return Decode(codes.Codes.narrow(1, 0, CodesPerImage).reshape(quantizer.IndexShape(codes.Count, side, side)).to(device));
    }

    public override TokenizerOutput forward(Tensor images)
    {
        CheckImages(images);
        var q = quantizer.call(encoder.call(images));
        return new TokenizerOutput(decoder.call(q.Quantized), q);
    }

    /// <summary>Codes of <paramref name="images"/>: [B, h, w] (stacked quantizers: [B, h, w, D]).</summary>
    public Tensor Encode(Tensor images)
    {
        CheckImages(images);
        using var noGrad = no_grad();
        return quantizer.call(encoder.call(images)).Indices;
    }

    /// <summary>Images [B, C, H, W] (values about [−1, 1]) decoded from codes.</summary>
    public Tensor Decode(Tensor indices)
    {
        using var noGrad = no_grad();
        return decoder.call(quantizer.Lookup(indices));
    }

    /// <summary>Images decoded from continuous latents [B, LatentDim, h, w] (e.g. regressed code embeddings).</summary>
    public Tensor DecodeLatents(Tensor latents)
    {
        if (latents.dim() != 4 || latents.shape[1] != Config.LatentDim)
            throw new ArgumentException($"latents must be [B, {Config.LatentDim}, h, w]; got [{string.Join(", ", latents.shape)}].",
                nameof(latents));
        using var noGrad = no_grad();
        return decoder.call(latents);
    }

    /// <summary>Side of the code map for images of side <paramref name="imageSize"/>.</summary>
    public int CodeMapSize(int imageSize) => imageSize / Config.DownsampleFactor;

    void CheckImages(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != Config.ImageChannels || images.shape[2] % Config.DownsampleFactor != 0
            || images.shape[3] % Config.DownsampleFactor != 0)
            throw new ArgumentException($"images must be [B, {Config.ImageChannels}, H, W] with H and W divisible by " +
                $"{Config.DownsampleFactor}; got [{string.Join(", ", images.shape)}].", nameof(images));
    }
}
