// The Gumbel-softmax (Jang et al. 2017; Maddison et al. 2017): a differentiable sample from a categorical distribution,
// softmax((logits + g) / τ) with Gumbel noise g = −log(−log U), U ~ Uniform(0, 1); hard, it is the one-hot of the
// sample in the forward pass with the soft sample's gradient (straight-through). LaVIT's token selector samples its
// keep/drop decision this way. TorchSharp 0.107 has no gumbel_softmax.
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Core;

/// <summary>Gumbel noise and the (hard, straight-through) Gumbel-softmax.</summary>
public static class Gumbel
{
    /// <summary>Gumbel(0, 1) noise of <paramref name="shape"/>: −log(−log U), with U kept away from 0 and 1 so it stays finite.</summary>
    public static Tensor Noise(long[] shape, Device? device = null, Generator? generator = null)
    {
        var u = rand(shape, device: device, generator: generator).clamp(1e-10, 1 - 1e-7);
        return -(-u.log()).log();
    }

    /// <summary>
    /// softmax((logits + g) / τ) along <paramref name="dim"/>; with <paramref name="hard"/>, the one-hot of its argmax in
    /// the forward pass and the soft sample's gradient in the backward pass (y_hard − sg(y) + y).
    /// </summary>
    public static Tensor Softmax(Tensor logits, double temperature = 1.0, bool hard = false, long dim = -1, Generator? generator = null)
    {
        if (temperature <= 0) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "expected τ > 0");
        var soft = F.softmax((logits + Noise(logits.shape, logits.device, generator)) / temperature, dim);
        if (!hard) return soft;
        var oneHot = zeros_like(soft).scatter_(dim, soft.argmax(dim, keepdim: true), ones_like(soft));
        return oneHot - soft.detach() + soft;
    }
}
