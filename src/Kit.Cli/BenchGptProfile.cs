// `kit bench gpt`'s profile: where one training step of the default GPT spends its time. The phases are timed inside
// the same steps the throughput row measures (forward to the loss, backward, the optimizer's zero_grad + step, and the
// end of the step's dispose scope, where its tensors go back to the allocator). The matrix products are then timed
// alone at the model's own shapes — every weight's forward product and its two backward products (input and weight
// gradients) — and attention alone, forward and backward (the kit's explicit scores, and the fused kernel beside them):
// what is left of forward + backward is the elementwise work (norms, GELU, rotary positions, residual adds, softmax
// cross-entropy, the embedding's scatter) and the allocations it makes. Each product is also put beside the measured matmul peak, because a
// product with a 256-wide
// inner dimension may not reach it (a share above it is flagged, as a peak measured too low); the last row, the step's
// FLOPs over the products' and attention's time alone, is the ceiling of the step's MFU on the machine at hand.
using System.Diagnostics;
using Kit.Core;
using Kit.Language;
using Kit.Notebook;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Cli;

static class BenchGptProfile
{
    /// <summary>Seconds per step by phase, over <paramref name="steps"/> steps of <paramref name="step"/>'s parts.</summary>
    public sealed record Phases(double Forward, double Backward, double Optimizer, double ScopeEnd)
    {
        public double Total => Forward + Backward + Optimizer + ScopeEnd;
    }

    /// <summary>
    /// Runs <paramref name="steps"/> training steps with each phase timed: <paramref name="forward"/> builds the loss,
    /// then backward, then <paramref name="optimizer"/>'s zero_grad and step, then the step's scope is disposed.
    /// </summary>
    public static Phases Time(Func<Tensor> forward, optim.Optimizer optimizer, int steps)
    {
        double f = 0, b = 0, o = 0, s = 0;
        var clock = new Stopwatch();
        for (int i = 0; i < steps; i++)
        {
            var scope = NewDisposeScope();
            clock.Restart();
            var loss = forward();
            f += Lap(clock);
            loss.backward();
            b += Lap(clock);
            optimizer.step();
            optimizer.zero_grad();
            o += Lap(clock);
            scope.Dispose();
            s += Lap(clock);
        }
        return new Phases(f / steps, b / steps, o / steps, s / steps);
    }

    static double Lap(Stopwatch clock)
    {
        double seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        return seconds;
    }

    /// <summary>
    /// The profile table: phases of the step, and inside forward + backward the products at the model's shapes, the
    /// attention kernel and the rest. <paramref name="rows"/> = batch × sequence length.
    /// </summary>
    public static ResultTable Table(Gpt gpt, Phases phases, long batch, long t, double peak, int repeats = 5)
    {
        var config = gpt.Config;
        long rows = batch * t;
        // Every weight matrix is one product forward (x·Wᵀ) and two backward (dy·W for the input, dyᵀ·x for the weight);
        // the tied head is the embedding table's product. The embedding lookup itself is a gather, not a product.
        var shapes = gpt.named_parameters().Where(p => p.parameter.dim() == 2)
            .Select(p => (Name: p.name, Out: p.parameter.shape[0], In: p.parameter.shape[1])).ToList();
        double gemmSeconds = 0, gemmFlops = 0;
        var byKind = new Dictionary<string, (double Seconds, double Flops)>();
        foreach (var (name, outputs, inputs) in shapes)
        {
            double seconds = ProductSeconds(rows, inputs, outputs, repeats);
            double flops = 3 * 2.0 * rows * inputs * outputs;
            gemmSeconds += seconds; gemmFlops += flops;
            string kind = Kind(name);
            byKind[kind] = byKind.TryGetValue(kind, out var sum) ? (sum.Seconds + seconds, sum.Flops + flops) : (seconds, flops);
        }
        double attention = config.Layers * AttentionSeconds(batch, config.Heads, t, config.Dim / config.Heads, repeats);
        double fusedAttention = config.Layers * AttentionSeconds(batch, config.Heads, t, config.Dim / config.Heads, repeats, fused: true);
        double forwardBackward = phases.Forward + phases.Backward;
        var table = new List<IReadOnlyList<object?>>
        {
            Row("step (forward + backward + optimizer + scope end)", phases.Total, phases.Total, ""),
            Row("forward: embedding → loss", phases.Forward, phases.Total, ""),
            Row("backward", phases.Backward, phases.Total, ""),
            Row("optimizer: AdamW step + zero_grad", phases.Optimizer, phases.Total,
                $"{gpt.parameters().Sum(p => p.numel()):N0} parameters"),
            Row("scope end: the step's tensors freed", phases.ScopeEnd, phases.Total, $"allocator: {Allocator.Describe()}"),
        };
        string OfPeak(string what, double flops, double seconds) =>
            $"{flops / seconds / 1e9:0} GFLOP/s = {100 * Bench.ShareOfPeak(flops / seconds / 1e9, peak, $"GPT profile: {what}"):0} % " +
                $"of the matmul peak";
        foreach (var (kind, (seconds, flops)) in byKind)
            table.Add(Row($"  in forward + backward: products of {kind} (alone, ×3 each)", seconds, phases.Total,
                OfPeak($"products of {kind}", flops, seconds)));
        table.Add(Row("  in forward + backward: every product", gemmSeconds, phases.Total, OfPeak("every product", gemmFlops,
            gemmSeconds)));
        table.Add(Row("  in forward + backward: causal attention (alone)", attention, phases.Total,
            $"{config.Layers} layers × [{batch}, {config.Heads}, {t}, {config.Dim / config.Heads}], explicit scores; the fused kernel " +
                $"instead: {1e3 * fusedAttention:0.0} ms"));
        table.Add(Row("  in forward + backward: the rest (elementwise ops, cross-entropy, allocations)",
            forwardBackward - gemmSeconds - attention, phases.Total, ""));
        // A target above the ceiling is out of this machine's reach whatever the rest costs (FLOPs: the MFU row's count).
        double ceilingSeconds = gemmSeconds + attention;
        table.Add(Row("the ceiling: products and attention alone, everything else free", ceilingSeconds, phases.Total,
            OfPeak("the step's ceiling", config.TrainFlopsPerToken((int)t) * rows, ceilingSeconds)
                + " (the most the step can reach here)"));
        return ResultTable.FromRows("GPT training step: where the time goes", new[] { "part", "ms per step", "% of the step", "note" },
            table,
            note: "Phases timed inside the same steps; products and attention timed alone at the model's shapes, so 'the rest' is " +
                "forward + backward less both. "
                + "The ceiling is the step's FLOPs over the products' and attention's time alone: the step's share of the peak cannot " +
                    "exceed it.");
    }

    static IReadOnlyList<object?> Row(string part, double seconds, double total, string note) => new object?[] { part, 1e3 * seconds,
        100 * seconds / total, note };

    static string Kind(string name) =>
        name.Contains("qkv") ? "the q, k, v projections" : name.Contains("attn.proj") ? "the attention outputs"
        : name.Contains("mlp.0") ? "the MLP's first layers" : name.Contains("mlp.2") ? "the MLP's second layers"
            : $"{name} (the tied head)";

    /// <summary>Median seconds of the three products of one linear layer [rows, in] → [rows, out].</summary>
    static double ProductSeconds(long rows, long inputs, long outputs, int repeats)
    {
        using var scope = NewDisposeScope();
        var x = randn(rows, inputs);
        var w = randn(outputs, inputs);
        var dy = randn(rows, outputs);
        return Median(repeats, () =>
        {
            using var y = F.linear(x, w);
            using var dx = dy.matmul(w);
            using var dw = dy.t().matmul(x);
        });
    }

    /// <summary>
    /// Median seconds of causal attention forward and backward at [b, h, t, hd]: the kit's path (explicit scores where a
    /// CPU backward follows, see MultiHeadAttention.Attend), or the fused kernel alone when <paramref name="fused"/>.
    /// </summary>
    static double AttentionSeconds(long b, long h, long t, long hd, int repeats, bool fused = false)
    {
        using var scope = NewDisposeScope();
        var q = randn(b, h, t, hd).requires_grad_();
        var k = randn(b, h, t, hd).requires_grad_();
        var v = randn(b, h, t, hd).requires_grad_();
        var dy = randn(b, h, t, hd);
        return Median(repeats, () =>
        {
            using var inner = NewDisposeScope();
            var y = fused ? F.scaled_dot_product_attention(q, k, v, is_casual: true) : MultiHeadAttention.Attend(q, k, v, causal: true);
            y.backward(new[] { dy });
            q.grad?.zero_(); k.grad?.zero_(); v.grad?.zero_();
        });
    }

    static double Median(int repeats, Action body)
    {
        body(); // warm-up
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            body();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
