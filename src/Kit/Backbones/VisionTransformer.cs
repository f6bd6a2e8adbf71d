// A small Vision Transformer (Dosovitskiy et al. 2021): the image cut into p×p patches, each linearly embedded (a
// strided convolution), a learned position embedding added, pre-norm transformer blocks, a final LayerNorm. No class
// token: the kit's users read patch features. It is the kit's stand-in for the frozen EVA-CLIP / DINOv2 encoders of
// LaVIT and LexVLA, pretrained without labels by MaskedAutoencoder; at 32×32 with 4×4 patches it sees an 8×8 grid.
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Backbones;

/// <summary>Shape of a <see cref="VisionTransformer"/>; the defaults are the kit's CPU-sized backbone.</summary>
/// <param name="ImageSize">Image side (square images).</param>
/// <param name="PatchSize">Patch side; must divide ImageSize.</param>
/// <param name="Channels">Image channels.</param>
/// <param name="Dim">Width of the patch features.</param>
/// <param name="Layers">Transformer blocks.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="MlpRatio">MLP width as a multiple of Dim.</param>
public sealed record VitConfig(int ImageSize = 32, int PatchSize = 4, int Channels = 3, int Dim = 128, int Layers = 4, int Heads = 4,
    int MlpRatio = 4)
{
    /// <summary>Patches per side.</summary>
    public int Grid => ImageSize / PatchSize;
    /// <summary>Patches per image.</summary>
    public int Patches => Grid * Grid;

    /// <summary>Throws ArgumentException naming the bad value.</summary>
    public VitConfig Validate()
    {
        if (PatchSize < 1
            || ImageSize % PatchSize != 0) throw new ArgumentException($"PatchSize={PatchSize} must divide ImageSize={ImageSize}.",
                nameof(PatchSize));
        if (Heads < 1 || Dim % Heads != 0) throw new ArgumentException($"Heads={Heads} must divide Dim={Dim}.", nameof(Heads));
        if (Layers < 1) throw new ArgumentException($"Layers={Layers}: expected at least 1.", nameof(Layers));
        if (Channels is not (1 or 3)) throw new ArgumentException($"Channels={Channels}: expected 1 or 3.", nameof(Channels));
        return this;
    }
}

/// <summary>Patch embedding, learned positions, pre-norm blocks: images → patch features [B, N, Dim].</summary>
public sealed class VisionTransformer : nn.Module<Tensor, Tensor>, IPatchBackbone
{
    readonly Conv2d patch_embed;
    readonly Parameter pos_embed;
    readonly ModuleList<TransformerBlock> blocks;
    readonly LayerNorm norm;

    public VisionTransformer(VitConfig config) : base(nameof(VisionTransformer))
    {
        Config = config.Validate();
        patch_embed = nn.Conv2d(config.Channels, config.Dim, config.PatchSize, stride: config.PatchSize);
        pos_embed = nn.Parameter(randn(1, config.Patches, config.Dim) * 0.02);
        blocks = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new TransformerBlock(config.Dim, config.Heads,
            config.MlpRatio, attentionBias: true)).ToArray());
        norm = nn.LayerNorm(config.Dim);
        RegisterComponents();
    }

    public VitConfig Config { get; }
    public int GridHeight => Config.Grid;
    public int GridWidth => Config.Grid;
    public int Dim => Config.Dim;
    public int ImageSize => Config.ImageSize;

    /// <summary>The embedded patches with their positions [B, N, Dim], before any block.</summary>
    public Tensor Embed(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != Config.Channels || images.shape[2] != Config.ImageSize
            || images.shape[3] != Config.ImageSize)
            throw new ArgumentException($"images must be [B, {Config.Channels}, {Config.ImageSize}, {Config.ImageSize}]; got " +
                $"[{string.Join(", ", images.shape)}].", nameof(images));
        return patch_embed.call(images).flatten(2).transpose(1, 2) + pos_embed;
    }

    /// <summary>The blocks and final norm over embedded tokens [B, T, Dim] (all patches, or MAE's visible subset).</summary>
    public Tensor Encode(Tensor tokens) => Encode(tokens, Config.Layers);

    /// <summary>The first <paramref name="depth"/> blocks, then the final norm, over embedded tokens [B, T, Dim].</summary>
    /// <param name="tokens">Embedded tokens [B, T, Dim].</param>
    /// <param name="depth">Blocks to run, 0 (the embedding, normalised) to the backbone's layers.</param>
    public Tensor Encode(Tensor tokens, int depth)
    {
        if (depth < 0 || depth > Config.Layers) throw new ArgumentOutOfRangeException(nameof(depth), depth,
            $"expected 0..{Config.Layers} (the backbone's blocks).");
        var x = tokens;
        for (int i = 0; i < depth; i++) x = blocks[i].Forward(x);
        return norm.call(x);
    }

    /// <summary>This backbone read after its first <paramref name="depth"/> blocks, as a backbone of its own.</summary>
    /// <param name="depth">Blocks to run, 0..layers; the full depth is the backbone itself.</param>
    public IPatchBackbone AtDepth(int depth) =>
        depth == Config.Layers ? this : depth >= 0 && depth < Config.Layers ? new VitAtDepth(this, depth)
        : throw new ArgumentOutOfRangeException(nameof(depth), depth, $"expected 0..{Config.Layers} (the backbone's blocks).");

    /// <summary>Patch features [B, N, Dim].</summary>
    public override Tensor forward(Tensor images) => Encode(Embed(images));

    public Tensor PatchFeatures(Tensor images) => forward(images);
}

/// <summary>A ViT read after its first <see cref="Depth"/> blocks: a ViT's deeper features mix every patch with the
/// whole image, so a notebook that needs patch-local features reads an earlier block of the same trained network.</summary>
public sealed class VitAtDepth(VisionTransformer vit, int depth) : IPatchBackbone
{
    /// <summary>The full network.</summary>
    public VisionTransformer Vit { get; } = vit;
    /// <summary>Blocks run before the final norm.</summary>
    public int Depth { get; } = depth;
    public int GridHeight => Vit.GridHeight;
    public int GridWidth => Vit.GridWidth;
    public int Dim => Vit.Dim;
    public int ImageSize => Vit.ImageSize;
    public Tensor PatchFeatures(Tensor images) => Vit.Encode(Vit.Embed(images), Depth);
}
