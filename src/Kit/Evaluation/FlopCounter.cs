// Counts the multiply–accumulates of a forward pass by hooking every convolution, transposed convolution and linear
// layer (TorchSharp runs hooks only through Module.call, which is why the kit's modules call their children with
// call()), plus the two matmuls of every attention call (QKᵀ and AV, which are not layers), read off the real shapes,
// so the count follows any architecture:
//   conv            output elements × input channels per group × kernel area;
//   transposed conv input elements × output channels per group × kernel area (each input pixel scatters a kernel);
//   linear          output elements × input features;
//   attention       2 × B × T × S × Dim, causal (no mask beyond the triangle) T(T+1)/2 in place of T × S: the fused
//                   kernel skips the masked half, as nanoGPT's and the kit's GPT count assume.
// Training is not always 3 × forward: each layer's backward computes the weight gradient (one more pass of its MACs)
// only when its weight is trained, and the input gradient (another) only when its input needs one. The first layer of
// a network reads the images, which need no gradient, so it costs 2 passes, not 3; a frozen layer fed by frozen ones
// costs 1. The count runs the forward with autograd on to see which inputs need a gradient.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>Per-sample counts of one forward pass and one training step.</summary>
/// <param name="ForwardMacs">Multiply–accumulates of the forward pass (layers and attention).</param>
/// <param name="TrainingFlops">FLOPs of forward + backward (2 per MAC), counting only the gradients backward computes.</param>
/// <param name="AttentionMacs">The share of <paramref name="ForwardMacs"/> in attention's QKᵀ and AV.</param>
public sealed record FlopCount(double ForwardMacs, double TrainingFlops, double AttentionMacs);

/// <summary>Multiply–accumulate and training-FLOP counts of convolutions, linear layers and attention.</summary>
public static class FlopCounter
{
    /// <summary>Forward MACs per sample of <paramref name="model"/> on <paramref name="input"/> (batch of one or more).</summary>
    public static double ForwardMacsPerSample(nn.Module model, Func<Tensor> input) => PerSample(model, input).ForwardMacs;

    /// <summary>Forward MACs per sample of <paramref name="model"/>'s layers while <paramref name="forward"/> runs on
    /// <paramref name="input"/>.</summary>
    public static double ForwardMacsPerSample(nn.Module model, Func<Tensor> input, Action<Tensor> forward) => PerSample(model, input,
        forward).ForwardMacs;

    /// <summary>
    /// Forward MACs and training FLOPs per sample of <paramref name="model"/> while <paramref name="forward"/> (by default the
    /// module's own call) runs on <paramref name="input"/>, which needs no gradient (images, token features).
    /// </summary>
    public static FlopCount PerSample(nn.Module model, Func<Tensor> input, Action<Tensor>? forward = null)
    {
        forward ??= x => Run(model, x);
        double macs = 0, train = 0, attention = 0;
        void Layer(double m, bool weightTrained, bool inputNeedsGradient)
        {
            macs += m;
            train += 2 * m * (1 + (weightTrained ? 1 : 0) + (inputNeedsGradient ? 1 : 0));
        }
        var removers = new List<Action>();
        void Watch(nn.Module<Tensor, Tensor> layer, Func<Tensor> weight, Func<Tensor, Tensor, Tensor, double> count)
        {
            var hook = layer.register_forward_hook((m, x, y) => { var w = weight(); Layer(count(x, y, w), w.requires_grad,
                x.requires_grad); return y; });
            removers.Add(() => hook.remove());
        }
        foreach (var (_, module) in model.named_modules())
        {
            switch (module)
            {
                // conv weight [out, in / groups, kh, kw]: each output element sums over one input group's kernel window.
                case Conv2d conv: Watch(conv, () => conv.weight!,
                    (x, y, w) => y.numel() * (double)(w.shape[1] * w.shape[2] * w.shape[3])); break;
                // transposed conv weight [in, out / groups, kh, kw]: each input element scatters into one output group's kernel window.
                case ConvTranspose2d deconv: Watch(deconv, () => deconv.weight!,
                    (x, y, w) => x.numel() * (double)(w.shape[1] * w.shape[2] * w.shape[3])); break;
                case Linear linear: Watch(linear, () => linear.weight!, (x, y, w) => y.numel() * (double)w.shape[1]); break;
            }
        }
        // QKᵀ and AV have no weights: forward 1 pass; backward 2 more (dQ and dK, dA and dV) when the queries need gradients.
        Kit.Core.MultiHeadAttention.Observer = (b, t, s, dim, causal, needsGradient) =>
        {
            double pairs = causal && t == s ? t * (t + 1) / 2.0 : (double)t * s;
            double m = 2 * b * pairs * dim;
            attention += m;
            macs += m;
            train += 2 * m * (needsGradient ? 3 : 1);
        };
        long batch;
        try
        {
            using var scope = NewDisposeScope();
            using var grad = enable_grad();
            var x = input().detach();
            batch = x.shape[0];
            forward(x);
        }
        finally
        {
            foreach (var remove in removers) remove();
            Kit.Core.MultiHeadAttention.Observer = null;
        }
        return new FlopCount(macs / batch, train / batch, attention / batch);
    }

    static void Run(nn.Module model, Tensor x)
    {
        switch (model)
        {
            case nn.Module<Tensor, Tensor> plain: plain.call(x); break;
            default: throw new ArgumentException($"{model.GetType().Name} is not a tensor-to-tensor module; pass how to run it (forward).",
                nameof(model));
        }
    }
}
