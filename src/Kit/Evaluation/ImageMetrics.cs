// Reconstruction metrics on images in [−1, 1]: PSNR and SSIM (Wang et al. 2004, 11×11 Gaussian window,
// σ = 1.5, on the [0, 1] range), and the Fréchet distance between two feature sets (the FID formula, used
// with the kit's own probe features since no Inception weights can be downloaded).
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Evaluation;

/// <summary>Image-quality and distribution metrics.</summary>
public static class ImageMetrics
{
    /// <summary>Mean PSNR in dB of <paramref name="reconstruction"/> against <paramref name="target"/> (both [B, C, H, W] in [−1, 1]), per
    /// image then averaged.</summary>
    public static double Psnr(Tensor reconstruction, Tensor target)
    {
        CheckPair(reconstruction, target);
        using var scope = NewDisposeScope();
        var a = (reconstruction.detach().clamp(-1, 1) + 1) / 2;
        var b = (target.detach() + 1) / 2;
        var mse = (a - b).pow(2).flatten(1).mean(new long[] { 1 }).clamp_min(1e-10);
        return (-10 * mse.log10()).mean().item<float>();
    }

    /// <summary>Mean SSIM (11×11 Gaussian window, σ = 1.5, valid region, per channel) on the [0, 1] range.</summary>
    public static double Ssim(Tensor reconstruction, Tensor target)
    {
        CheckPair(reconstruction, target);
        using var scope = NewDisposeScope();
        var x = (reconstruction.detach().clamp(-1, 1).to(float64) + 1) / 2;
        var y = (target.detach().to(float64) + 1) / 2;
        long channels = x.shape[1];
        int size = (int)Math.Min(11, Math.Min(x.shape[2], x.shape[3]));
        var window = GaussianWindow(size, 1.5).to(x.device).expand(channels, 1, size, size);
        Tensor Blur(Tensor t) => F.conv2d(t, window, groups: channels);
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var mx = Blur(x); var my = Blur(y);
        var vx = Blur(x * x) - mx * mx; var vy = Blur(y * y) - my * my; var cxy = Blur(x * y) - mx * my;
        var map = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        return map.mean().item<double>();
    }

    /// <summary>The normalised 2-D Gaussian window [1, 1, size, size].</summary>
    public static Tensor GaussianWindow(int size, double sigma)
    {
        var g = Enumerable.Range(0, size).Select(i => Math.Exp(-Math.Pow(i - (size - 1) / 2.0, 2) / (2 * sigma * sigma))).ToArray();
        double sum = g.Sum();
        var g1 = tensor(g.Select(v => v / sum).ToArray(), dtype: float64);
        return g1.unsqueeze(1).MatmulChecked(g1.unsqueeze(0)).reshape(1, 1, size, size);
    }

    /// <summary>
    /// Fréchet distance between Gaussians fitted to features [N, d] and [M, d]:
    /// ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).
    /// </summary>
    public static double FrechetDistance(Tensor features1, Tensor features2)
    {
        if (features1.dim() != 2 || features2.dim() != 2 || features1.shape[1] != features2.shape[1])
            throw new ArgumentException($"feature sets must be [N, d] and [M, d]; got [{string.Join(", ", features1.shape)}] and " +
                $"[{string.Join(", ", features2.shape)}].");
        if (features1.shape[0] < 2
            || features2.shape[0] < 2) throw new ArgumentException("each feature set needs at least two rows to estimate a covariance.");
        using var scope = NewDisposeScope();
        var a = features1.detach().to(float64).cpu();
        var b = features2.detach().to(float64).cpu();
        var (mu1, s1) = (a.mean(new long[] { 0 }), Covariance(a));
        var (mu2, s2) = (b.mean(new long[] { 0 }), Covariance(b));
        var root1 = SymmetricSqrt(s1);
        var middle = SymmetricSqrt(root1.MatmulChecked(s2).MatmulChecked(root1));
        var value = (mu1 - mu2).pow(2).sum() + s1.trace() + s2.trace() - 2 * middle.trace();
        return Math.Max(0, value.item<double>());
    }

    static Tensor Covariance(Tensor x)
    {
        var centred = x - x.mean(new long[] { 0 }, keepdim: true);
        return centred.t().MatmulChecked(centred) / (x.shape[0] - 1);
    }

    // The square root of a symmetric positive semi-definite matrix by eigendecomposition (negative
    // eigenvalues from rounding are clipped to zero).
    static Tensor SymmetricSqrt(Tensor m)
    {
        var symmetric = (m + m.t()) / 2;
        var (values, vectors) = linalg.eigh(symmetric);
        return vectors.MatmulChecked(diag(values.clamp_min(0).sqrt())).MatmulChecked(vectors.t());
    }

    static void CheckPair(Tensor a, Tensor b)
    {
        if (a.dim() != 4 || !a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"images must be two [B, C, H, W] tensors of one shape; got [{string.Join(", ", a.shape)}] and " +
                $"[{string.Join(", ", b.shape)}].");
    }
}
