// Layer constructors that work around TorchSharp 0.107 defects. nn.GroupNorm there leaves its affine
// weight and bias uninitialised (garbage, often NaN: found when a freshly built probe produced NaN), so the
// kit builds every GroupNorm through here with PyTorch's initialisation: weight 1, bias 0.
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>Safe constructors for layers whose TorchSharp defaults are broken.</summary>
public static class Layers
{
    /// <summary>GroupNorm with weight = 1 and bias = 0 (PyTorch's initialisation).</summary>
    public static nn.Module<Tensor, Tensor> GroupNorm(long groups, long channels, bool affine = true)
    {
        var norm = nn.GroupNorm(groups, channels, affine: affine);
        using (no_grad())
            foreach (var (name, p) in norm.named_parameters())
                if (name == "weight") p.fill_(1); else p.zero_();
        return norm;
    }
}
