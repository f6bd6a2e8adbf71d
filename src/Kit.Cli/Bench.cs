// `kit bench`: the kit's speed and memory targets, measured on this machine. Training throughput is
// reported as a fraction of the float32 matmul peak measured in the same run (nanoGPT's MFU, for CPUs).
using System.Diagnostics;
using Kit.Core;
using Kit.Data;
using Kit.Evaluation;
using Kit.Experiments;
using Kit.Notebook;
using Kit.Quantizers;
using Kit.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Cli;

/// <summary>Benchmarks of the tokenizer, the LFQ entropy terms and memory over long training.</summary>
public static class Bench
{
    public static int Run(string what, int steps, string? outFile)
    {
        var known = new[] { "tokenizer", "lfq", "memory", "gpt", "dynamic", "all" };
        if (!known.Contains(what)) throw new UsageException($"bench '{what}' is not a benchmark (expected {string.Join(", ", known)}).");
        var tables = new List<ResultTable>();
        Console.WriteLine(KitRuntime.Describe());
        var measured = KitRuntime.MeasureMatmulPeak();
        double peak = measured.Gflops;
        string peaks = KitRuntime.DescribePeaks(measured);
        Console.WriteLine(peaks);
        Flagged.Clear();
        if (what is "tokenizer" or "all") tables.Add(Tokenizers(peak, steps));
        if (what is "lfq" or "all") tables.Add(LfqEntropy());
        if (what is "memory" or "all") tables.Add(Memory(Math.Max(steps * 10, 200)));
        if (what is "gpt" or "all") tables.AddRange(BenchGpt.Run(peak, Math.Max(steps, 5)));
        if (what is "dynamic" or "all") tables.AddRange(BenchDynamic.Run(peak, Math.Max(steps, 5)));
        foreach (var t in tables) Console.WriteLine("\n" + t.ToPlainText());
        if (Flagged.Count > 0) Console.WriteLine(FlaggedMarkdown());
        if (outFile is not null)
        {
            AtomicFile.WriteAllText(outFile,
                $"# kit bench {what}\n\n{KitRuntime.Describe().Replace("\n", "  \n")}\n\n{peaks.Replace("\n", "  \n")}\n\n"
                + string.Join("\n", tables.Select(t => t.ToMarkdown())) + FlaggedMarkdown());
            Console.WriteLine($"\nwritten to {outFile}");
        }
        return 0;
    }

    static readonly List<string> Flagged = new();

    /// <summary>
    /// <paramref name="gflops"/> as a share of the measured matmul <paramref name="peak"/>; a share above 1 is not an
    /// achievement but a wrong FLOP count or peak, so it is flagged on the console and in the written tables.
    /// </summary>
    internal static double ShareOfPeak(double gflops, double peak, string what)
    {
        double share = gflops / peak;
        if (share > 1)
        {
            var line = $"{what}: {gflops:0} GFLOP/s is {share:P0} of the measured matmul peak ({peak:0} GFLOP/s): the FLOP count or " +
                $"the peak is wrong";
            Flagged.Add(line);
            Console.WriteLine($"  FLAGGED — {line}");
        }
        return share;
    }

    static string FlaggedMarkdown() => Flagged.Count == 0 ? "" : "\n**Flagged** (above the measured peak):\n\n"
        + string.Concat(Flagged.Select(f => $"- {f}\n"));

    /// <summary>Images/s of full training steps (forward, backward, AdamW) at 32×32, batch 64, per quantizer and tokenizer width.</summary>
    static ResultTable Tokenizers(double peak, int steps)
    {
        var rows = new List<IReadOnlyList<object?>>();
        var specs = new[]
        {
            new QuantizerSpec(Kind: QuantizerKind.Vq, CodebookSize: 1024),
            new QuantizerSpec(Kind: QuantizerKind.Lfq, Bits: 10),
            new QuantizerSpec(Kind: QuantizerKind.Fsq, Levels: new[] { 8, 5, 5, 5 }),
            new QuantizerSpec(Kind: QuantizerKind.Stacked, Depth: 4, Aggregation: StackAggregation.CumulativeSum, CodebookSize: 256),
        };
        using var data = new ShapesDataset(512, Split.Train).Batch(0, 512);
        foreach (var (label, config) in new[] { ("default (32 ch)", new TokenizerConfig()), ("notebooks (16 ch)",
            KitRecipes.Tokenizer(RunScale.Default)) })
            foreach (var spec in specs)
            {
                var c = spec.RequiredDim is int d ? config with { LatentDim = d, PreQuantNorm = spec.Kind == QuantizerKind.Lfq } : config;
                using var model = new ImageTokenizer(c, spec.Build(c.LatentDim));
                var count = FlopCounter.PerSample(model, () => data.Images.narrow(0, 0, 4), x => model.call(x));
                double macs = count.ForwardMacs;
                var optimizer = optim.AdamW(model.parameters(), 1e-3);
                void Step(int i) => TrainStep(model, optimizer, data.Images.narrow(0, (i * 64) % 448, 64));
                for (int i = 0; i < 3; i++) Step(i);
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < steps; i++) Step(i);
                double imagesPerSecond = steps * 64 / clock.Elapsed.TotalSeconds;
                double gflops = imagesPerSecond * count.TrainingFlops / 1e9;
                double share = ShareOfPeak(gflops, peak, $"tokenizer {label} {spec.Describe()}");
                rows.Add(new object?[] { label, spec.Describe(), macs / 1e6, imagesPerSecond, gflops, share });
                Console.WriteLine($"  {label} {spec.Describe()}: {imagesPerSecond:0} img/s, {gflops:0} GFLOP/s = {share:P0} of peak");
            }
        return ResultTable.FromRows("Tokenizer training throughput (32×32, batch 64, forward+backward+AdamW)",
            new[] { "tokenizer", "quantizer", "forward MMAC/img", "img/s", "GFLOP/s", "of matmul peak" }, rows,
            note: $"Training FLOPs = 2 per MAC for the forward pass, the weight gradients and the input gradients each layer needs " +
                $"(the first conv reads images: no input gradient; FlopCounter hooks every conv and linear layer); peak = float32 " +
                    $"matmul measured in this run ({peak:0} GFLOP/s). Target: ≥ 55 % at the default config.");
    }

    /// <summary>Time and largest tensor of the entropy terms per 4,096 tokens, exact vs grouped.</summary>
    static ResultTable LfqEntropy()
    {
        var rows = new List<IReadOnlyList<object?>>();
        foreach (var (bits, group) in new[] { (10, 10), (10, 5), (14, 14), (14, 7), (18, 9), (18, 6) })
        {
            var q = new LookupFreeQuantizer(bits, groupBits: group);
            double forward = Median(() => Scopes.Run(() => q.Entropies(randn(4096, bits)).Codebook.item<float>()));
            double backward = Median(() => Scopes.Run(() =>
            {
                var z = randn(4096, bits).requires_grad_();
                var (s, c) = q.Entropies(z);
                (s - c).backward();
                z.grad!.sum().item<float>();
            }));
            // A group's entropy forms each half of its bits' code probabilities, [4096, 2^half], and the 2^g batch mean.
            int high = group - group / 2;
            double largestMb = Math.Max(4096.0 * (1L << high), 1L << group) * 4 / 1e6;
            rows.Add(new object?[] { $"2^{bits}", group == bits ? "exact" : $"{bits / group}×2^{group}", forward, backward, largestMb });
            Console.WriteLine($"  LFQ 2^{bits} groups of {group} bits: {forward:0.0} ms forward, {backward:0.0} ms forward+backward, " +
                $"largest tensor {largestMb:0.00} MB");
        }
        return ResultTable.FromRows("LFQ entropy terms per 4,096 tokens", new[] { "vocabulary", "codebook entropy", "forward ms",
            "forward+backward ms", "largest tensor MB" }, rows,
            note: "Each group's batch-mean code distribution is the product of its two halves' code probabilities (P_bᵀ P_a / M), " +
                "never all M × 2^g at once. " +
                  "Target: 2^18 grouped (2 × 2^9) forward + backward ≤ 10 ms.");
    }

    // One tokenizer training step in its own dispose scope; the final item() waits for the step to finish.
    static void TrainStep(ImageTokenizer model, optim.Optimizer optimizer, Tensor x) => Scopes.Run(() =>
    {
        var o = model.forward(x);
        var loss = F.l1_loss(o.Reconstruction, x) + o.Quantization.AuxLoss;
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        loss.item<float>();
    });

    static double Median(Action action, int repeats = 7)
    {
        action();
        var times = new List<double>();
        for (int i = 0; i < repeats; i++) { var c = Stopwatch.StartNew(); action(); times.Add(c.Elapsed.TotalMilliseconds); }
        times.Sort();
        return times[repeats / 2];
    }

    /// <summary>Working set over many training steps of the notebooks' tokenizer: it must stay flat.</summary>
    static ResultTable Memory(int steps)
    {
        var config = KitRecipes.Tokenizer(RunScale.Default);
        using var model = new ImageTokenizer(config, new VectorQuantizer(config.LatentDim, 256, kmeansInit: true, deadCodeThreshold: 2));
        var optimizer = optim.AdamW(model.parameters(), 1e-3);
        using var data = new ShapesDataset(256, Split.Train).Batch(0, 256);
        var rows = new List<IReadOnlyList<object?>>();
        var process = Process.GetCurrentProcess();
        double? baseline = null;
        for (int step = 1; step <= steps; step++)
        {
            TrainStep(model, optimizer, data.Images.narrow(0, (step * 16) % 240, 16));
            if (step == 50 || step % Math.Max(1, steps / 5) == 0)
            {
                GC.Collect();
                process.Refresh();
                double mb = process.WorkingSet64 / 1e6;
                baseline ??= mb;
                rows.Add(new object?[] { step, mb, (mb - baseline.Value) / baseline.Value });
                Console.WriteLine($"  step {step}: working set {mb:0} MB");
            }
        }
        return ResultTable.FromRows($"Working set over {steps} training steps (batch 16, one dispose scope per step)", new[] { "step",
            "working set MB", "change since step 50" }, rows,
            note: "Target: flat within ±5 % after warm-up.");
    }
}
