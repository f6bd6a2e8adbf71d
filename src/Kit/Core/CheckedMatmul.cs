// TorchSharp 0.107's native matmul has no error handling: a product whose shapes or dtypes do not fit throws a C++
// exception nothing catches, and the process aborts ("terminate called after throwing an instance of 'c10::Error'") —
// no notebook copy, no cell named, a dead kernel in VS Code. mm, bmm, Linear, cat, conv and view return their errors as
// exceptions. So every product the kit computes goes through here: the operands are checked as matmul would check them
// (dtype, device, the contracted dimension, broadcastable batch dimensions) and a misfit is an ArgumentException naming
// both shapes; a fitting product is libtorch's matmul, unchanged.
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>matmul with its operands checked first, so a misfit is an exception instead of a process abort.</summary>
public static class CheckedMatmul
{
    /// <summary><c>a.matmul(b)</c>, after checking that the product is defined; otherwise an ArgumentException naming both
    /// operands.</summary>
    public static Tensor MatmulChecked(this Tensor a, Tensor b)
    {
        if (Problem(a, b) is string why)
            throw new ArgumentException($"matmul of {Describe(a)} by {Describe(b)}: {why}.");
        return a.matmul(b);
    }

    static string Describe(Tensor t) => $"{t.dtype} [{string.Join(", ", t.shape)}] on {t.device}";

    /// <summary>Why matmul would refuse <paramref name="a"/> · <paramref name="b"/>, or null when it is defined (libtorch's
    /// rules).</summary>
    public static string? Problem(Tensor a, Tensor b)
    {
        if (a.dim() == 0 || b.dim() == 0) return "both operands need at least one dimension";
        if (a.dtype != b.dtype) return "the dtypes differ (convert one with .to(...))";
        if (a.device.type != b.device.type || a.device.index != b.device.index) return "the operands are on different devices";
        long inner = a.shape[^1];
        long other = b.dim() == 1 ? b.shape[0] : b.shape[^2];
        if (inner != other)
            return $"the last dimension of the first ({inner}) must equal the {(b.dim() == 1 ? "length" : "second-to-last dimension")} " +
                $"of the second ({other})";
        // Batch dimensions (all but the matrix ones) broadcast from the right.
        var batchA = a.dim() > 2 ? a.shape[..^2] : Array.Empty<long>();
        var batchB = b.dim() > 2 ? b.shape[..^2] : Array.Empty<long>();
        for (int i = 1; i <= Math.Min(batchA.Length, batchB.Length); i++)
        {
            long x = batchA[^i], y = batchB[^i];
            if (x != y && x != 1
                && y != 1) return $"the batch dimensions [{string.Join(", ", batchA)}] and [{string.Join(", ", batchB)}] do not broadcast";
        }
        return null;
    }
}
