// Counts the multiply–accumulates of a forward pass by hooking every convolution and linear layer (TorchSharp
// runs hooks only through Module.call, which is why the kit's modules call their children with call()):
// MACs = output elements × (input channels per group × kernel area) — read off the real shapes, so the
// count follows any architecture. Training costs about 3× the forward pass (forward + two backward matmuls).
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Evaluation;

/// <summary>Multiply–accumulate counts of convolutions and linear layers.</summary>
public static class FlopCounter
{
    /// <summary>Forward MACs per sample of <paramref name="model"/> on <paramref name="input"/> (batch of one or more).</summary>
    public static double ForwardMacsPerSample(nn.Module model, Func<Tensor> input) => ForwardMacsPerSample(model, input, x =>
    {
        switch (model)
        {
            case nn.Module<Tensor, Tensor> plain: plain.call(x); break;
            case nn.Module<Tensor, Kit.Tokenizers.TokenizerOutput> tokenizer: tokenizer.call(x); break;
            default: throw new ArgumentException($"{model.GetType().Name} is not a module the counter can run; pass how to run it.", nameof(model));
        }
    });

    /// <summary>Forward MACs per sample of <paramref name="model"/>'s layers while <paramref name="forward"/> runs on <paramref name="input"/>.</summary>
    public static double ForwardMacsPerSample(nn.Module model, Func<Tensor> input, Action<Tensor> forward)
    {
        double macs = 0;
        var removers = new List<Action>();
        foreach (var (_, module) in model.named_modules())
        {
            if (module is Conv2d conv)
            {
                var hook = conv.register_forward_hook((m, x, y) =>
                {
                    var w = conv.weight!;
                    macs += y.numel() * (double)(w.shape[1] * w.shape[2] * w.shape[3]);
                    return y;
                });
                removers.Add(() => hook.remove());
            }
            else if (module is Linear linear)
            {
                var hook = linear.register_forward_hook((m, x, y) => { macs += y.numel() * (double)linear.weight!.shape[1]; return y; });
                removers.Add(() => hook.remove());
            }
        }
        long batch;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var x = input();
            batch = x.shape[0];
            try { forward(x); }
            finally { foreach (var remove in removers) remove(); }
        }
        return macs / batch;
    }

    /// <summary>Training FLOPs per sample: 3 passes × 2 FLOPs per MAC.</summary>
    public static double TrainingFlopsPerSample(double forwardMacs) => 6 * forwardMacs;
}
