// The convolutional pieces of the image tokenizer (after VQGAN and MAGVIT-v2): residual blocks with
// GroupNorm and SiLU, strided-convolution downsampling and depth-to-space (pixel-shuffle) upsampling.
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Tokenizers;

/// <summary>GroupNorm → SiLU → conv → GroupNorm → SiLU → conv, plus the (projected) input.</summary>
public sealed class ResBlock : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> norm1, conv1, norm2, conv2;
    readonly nn.Module<Tensor, Tensor>? skip;

    public ResBlock(long inChannels, long outChannels, int groups) : base(nameof(ResBlock))
    {
        norm1 = Layers.GroupNorm(Groups(groups, inChannels), inChannels);
        conv1 = nn.Conv2d(inChannels, outChannels, 3, padding: 1);
        norm2 = Layers.GroupNorm(Groups(groups, outChannels), outChannels);
        conv2 = nn.Conv2d(outChannels, outChannels, 3, padding: 1);
        if (inChannels != outChannels) skip = nn.Conv2d(inChannels, outChannels, 1);
        RegisterComponents();
    }

    /// <summary>The largest group count ≤ <paramref name="wanted"/> that divides <paramref name="channels"/>.</summary>
    internal static long Groups(int wanted, long channels)
    {
        long g = Math.Min(wanted, channels);
        while (channels % g != 0) g--;
        return g;
    }

    public override Tensor forward(Tensor x)
    {
        var h = conv1.call(F.silu(norm1.call(x)));
        h = conv2.call(F.silu(norm2.call(h)));
        return (skip is null ? x : skip.call(x)) + h;
    }
}

/// <summary>Halves the resolution with a strided 3×3 convolution.</summary>
public sealed class Downsample : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> conv;
    public Downsample(long channels) : base(nameof(Downsample)) { conv = nn.Conv2d(channels, channels, 3, stride: 2,
        padding: 1); RegisterComponents(); }
    public override Tensor forward(Tensor x) => conv.call(x);
}

/// <summary>Doubles the resolution by depth-to-space: a convolution to 4× the channels, then pixel shuffle.</summary>
public sealed class DepthToSpaceUpsample : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> conv;
    public DepthToSpaceUpsample(long inChannels, long outChannels) : base(nameof(DepthToSpaceUpsample)) { conv = nn.Conv2d(inChannels,
        outChannels * 4, 3, padding: 1); RegisterComponents(); }
    public override Tensor forward(Tensor x) => F.pixel_shuffle(conv.call(x), 2);
}
