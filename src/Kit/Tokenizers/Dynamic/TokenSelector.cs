// LaVIT's token selector (Jin et al., ICLR 2024, §3.1): which patches of an image become visual tokens. Each patch's
// feature goes through LayerNorm → Linear → GELU; half of the channels, averaged over the patches (weighted by the
// current keep decision, all kept at first), become a global context concatenated with the other half of each patch;
// an MLP C → C/2 → C/4 → 2 with log-softmax scores keep (channel 0) against drop. Training samples the keep mask with
// hard Gumbel-softmax (τ = 1, straight-through), as the released code does; at inference the released code still
// samples, so an image's token count and ids vary from run to run — the kit also offers a deterministic mode
// (keep where p(keep) > 0.5, the kit's default): same image, same tokens.
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Gumbel = Kit.Core.Gumbel;

namespace Kit.Tokenizers.Dynamic;

/// <summary>How the keep mask is chosen outside training.</summary>
public enum SelectionMode
{
    /// <summary>Keep where p(keep) &gt; 0.5: the same image always gives the same tokens (the kit's default).</summary>
    Deterministic,
    /// <summary>Sample with hard Gumbel-softmax, as LaVIT's released inference does: counts and ids vary between runs.</summary>
    Stochastic,
}

/// <summary>Scores each patch keep / drop and draws the binary keep mask.</summary>
public sealed class TokenSelector : nn.Module<Tensor, Tensor>
{
    readonly Sequential in_conv, out_conv;

    /// <param name="dim">Width C of the patch features (even).</param>
    public TokenSelector(int dim) : base(nameof(TokenSelector))
    {
        if (dim < 4 || dim % 4 != 0) throw new ArgumentException($"dim={dim}: the selector splits C in halves and quarters; expected a " +
            $"multiple of 4.", nameof(dim));
        Dim = dim;
        in_conv = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU());
        out_conv = nn.Sequential(nn.Linear(dim, dim / 2), nn.GELU(), nn.Linear(dim / 2, dim / 4), nn.GELU(), nn.Linear(dim / 4, 2),
            nn.LogSoftmax(-1));
        RegisterComponents();
    }

    public int Dim { get; }

    /// <summary>Log-probabilities [B, N, 2] (channel 0 = keep) of patch features [B, N, C]; <paramref name="policy"/> [B, N] weighs the
    /// global context (default: every patch).</summary>
    public Tensor LogProbabilities(Tensor features, Tensor? policy = null)
    {
        var x = in_conv.call(features);
        long b = x.shape[0], n = x.shape[1], half = Dim / 2;
        var weights = (policy ?? ones(b, n, device: x.device)).to(x.dtype).unsqueeze(-1);
        var local = x.narrow(2, 0, half);
        var global = (x.narrow(2, half, half) * weights).sum(1, keepdim: true) / weights.sum(1, keepdim: true).clamp_min(1e-6);
        return out_conv.call(cat(new[] { local, global.expand(b, n, half) }, 2));
    }

    public override Tensor forward(Tensor features) => LogProbabilities(features);

    /// <summary>
    /// The keep mask [B, N] (1 = keep), float with gradients through the straight-through estimator while training (hard
    /// Gumbel-softmax, τ = 1); outside training, by <paramref name="mode"/>, with at least one patch kept per image (the
    /// one most likely kept) so that every image has a token.
    /// </summary>
    public Tensor Mask(Tensor features, SelectionMode mode = SelectionMode.Deterministic, Generator? generator = null)
    {
        var logp = LogProbabilities(features);
        if (training) return Gumbel.Softmax(logp, 1.0, hard: true, generator: generator).select(-1, 0);
        var keep = mode == SelectionMode.Deterministic ? logp.select(-1, 0).gt(logp.select(-1, 1))
            : Gumbel.Softmax(logp, 1.0, hard: true, generator: generator).select(-1, 0).gt(0.5);
        var best = F.one_hot(logp.select(-1, 0).argmax(1), logp.shape[1]).to(@bool);
        var none = keep.any(1, keepdim: true).logical_not();
        return keep.logical_or(best.logical_and(none)).to(features.dtype);
    }
}
