// `kit bench gpt`: training tokens/s of the default GPT and its MFU against the matmul peak measured in the same
// run (FLOPs per token from GptConfig.TrainFlopsPerToken, nanoGPT's count), and generation tokens/s with and
// without the KV cache at 256 generated tokens — with a check that both produce the same tokens.
using System.Diagnostics;
using Kit.Core;
using Kit.Language;
using Kit.Notebook;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Cli;

static class BenchGpt
{
    /// <summary>Training throughput (batch 16 × 128 tokens, vocabulary 4,096) and cached vs recomputed generation.</summary>
    public static IEnumerable<ResultTable> Run(double peak, int steps)
    {
        var rows = new List<IReadOnlyList<object?>>();
        ResultTable profile;
        Seeding.SeedEverything(0);
        var config = new GptConfig(VocabSize: 4096);
        using (var gpt = new Gpt(config))
        {
            var optimizer = optim.AdamW(gpt.parameters(), 1e-3);
            int batch = 16, t = config.ContextLength;
            Tensor Loss()
            {
                var tokens = randint(config.VocabSize, new long[] { batch, t + 1 });
                var hidden = gpt.Hidden(gpt.Embed(tokens.narrow(1, 0, t)));
                return gpt.Head.TokenLosses(hidden, tokens.narrow(1, 1, t)).mean();
            }
            void Step() => Scopes.Run(() =>
            {
                var loss = Loss();
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            });
            // Warm-up of about two seconds, as for the matmul peak: the first second of a process's products runs at a
            // fraction of their speed while the second thread comes up.
            var warmUp = Stopwatch.StartNew();
            for (int i = 0; i < 2 || warmUp.Elapsed.TotalSeconds < 2; i++) Step();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) Step();
            double tokensPerSecond = steps * batch * (double)t / clock.Elapsed.TotalSeconds;
            double gflops = tokensPerSecond * config.TrainFlopsPerToken(t) / 1e9;
            rows.Add(new object?[] { $"train: {config.Layers} layers, d={config.Dim}, T={t}, V={config.VocabSize}, batch {batch}",
                tokensPerSecond, gflops, 100 * Bench.ShareOfPeak(gflops, peak,
                    $"GPT training {config.Layers} layers, d={config.Dim}"), "" });
            profile = BenchGptProfile.Table(gpt, BenchGptProfile.Time(Loss, optimizer, steps), batch, t, peak);
        }
        const int generated = 256;
        var genConfig = config with { ContextLength = generated + 16 };
        using (var gpt = new Gpt(genConfig))
        {
            gpt.eval();
            var prompt = randint(genConfig.VocabSize, new long[] { 1, 8 });
            // Warm-up: the first calls of each path pay .NET JIT and allocator start-up (hundreds of ms), which would be
            // charged to whichever path is timed first.
            Greedy(gpt, prompt, 16, useCache: true);
            Greedy(gpt, prompt, 16, useCache: false);
            var (cached, cachedSeconds) = Greedy(gpt, prompt, generated, useCache: true);
            var (full, fullSeconds) = Greedy(gpt, prompt, generated, useCache: false);
            bool same = cached.SequenceEqual(full);
            rows.Add(new object?[] { $"generate {generated} tokens, batch 1, KV cache", generated / cachedSeconds, double.NaN, double.NaN,
                same ? "same tokens as recomputation" : "DIFFERENT tokens" });
            rows.Add(new object?[] { $"generate {generated} tokens, batch 1, recompute", generated / fullSeconds, double.NaN, double.NaN,
                $"cache is {fullSeconds / cachedSeconds:0.0}× faster" });
            // At batch 1 a cached step does one matrix-vector product per weight matrix: it must stream every weight from
            // memory once per token, however few FLOPs it does. Those products alone, timed here, bound how fast the
            // cache can be and so how large its advantage over recomputation can get on this machine.
            var (floor, megabytes) = WeightStream(gpt);
            rows.Add(new object?[] { $"batch 1: one product per weight matrix ({megabytes:0.0} MB)", 1 / floor, double.NaN, double.NaN,
                $"{megabytes / 1e3 / floor:0.0} GB/s; with nothing else per token the cache could be at most " +
                    $"{fullSeconds / generated / floor:0.0}× faster than recomputation" });
            // With several rows a step reads the weights once for all of them: the cache's cost barely grows with the batch,
            // recomputation's grows with it (the pipelines draw 32 prompts at a time, 64 rows under guidance).
            const int rowsPerBatch = 8;
            var batchPrompt = randint(genConfig.VocabSize, new long[] { rowsPerBatch, 8 });
            var (batchCached, batchCachedSeconds) = Greedy(gpt, batchPrompt, generated, useCache: true);
            var (batchFull, batchFullSeconds) = Greedy(gpt, batchPrompt, generated, useCache: false);
            rows.Add(new object?[] { $"generate {generated} tokens, batch {rowsPerBatch}, KV cache",
                rowsPerBatch * generated / batchCachedSeconds, double.NaN, double.NaN,
                batchCached.SequenceEqual(batchFull) ? "same tokens as recomputation" : "DIFFERENT tokens" });
            rows.Add(new object?[] { $"generate {generated} tokens, batch {rowsPerBatch}, recompute",
                rowsPerBatch * generated / batchFullSeconds, double.NaN, double.NaN,
                $"cache is {batchFullSeconds / batchCachedSeconds:0.0}× faster" });
            // At batch 1 a cached step is a few hundred tiny ops; with two intra-op threads some kernels (LayerNorm) pay a
            // thread wake-up each call. One thread shows what the cache costs without that overhead.
            int threads = get_num_threads();
            set_num_threads(1);
            try
            {
                Greedy(gpt, prompt, 16, useCache: true);
                var (single, singleSeconds) = Greedy(gpt, prompt, generated, useCache: true);
                rows.Add(new object?[] { $"generate {generated} tokens, batch 1, KV cache, 1 thread", generated / singleSeconds, double.NaN,
                    double.NaN,
                    (single.SequenceEqual(full) ? "same tokens; " : "DIFFERENT tokens; ")
                        + $"{fullSeconds / singleSeconds:0.0}× faster than recomputation on {threads} threads" });
            }
            finally { set_num_threads(threads); }
        }
        yield return ResultTable.FromRows("GPT: training MFU and generation with / without the KV cache", new[] { "case", "tokens/s",
            "GFLOP/s", "% of matmul peak", "note" }, rows,
            note: "Targets: ≥ 70 % of the matmul peak for training; the KV cache ≥ 10× faster than recomputation at 256 generated tokens.");
        yield return profile;
    }

    /// <summary>Greedy continuation of every row of <paramref name="prompt"/> [B, P]; the new tokens row after row.</summary>
    static (long[] Tokens, double Seconds) Greedy(Gpt gpt, Tensor prompt, int count, bool useCache)
    {
        using var noGrad = no_grad();
        using var cache = useCache ? new KvCache(gpt.Config.Layers, gpt.Config.ContextLength) : null;
        var tokens = prompt.clone();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            var grown = Scopes.Keep(() =>
            {
                var input = useCache && i > 0 ? tokens.narrow(1, tokens.shape[1] - 1, 1) : tokens;
                var hidden = gpt.Hidden(gpt.Embed(input), cache);
                var next = gpt.Head.FlatLogits(hidden.narrow(1, hidden.shape[1] - 1, 1)).argmax(-1);
                return cat(new[] { tokens, next }, 1);
            });
            tokens.Dispose();
            tokens = grown;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        using (tokens) return (tokens.narrow(1, prompt.shape[1], count).contiguous().data<long>().ToArray(), seconds);
    }

    /// <summary>
    /// Seconds for one matrix-vector product with each weight matrix of <paramref name="gpt"/> (what a batch-1 step must
    /// read), averaged over 50 passes, and the megabytes those matrices hold.
    /// </summary>
    static (double Seconds, double Megabytes) WeightStream(Gpt gpt)
    {
        using var noGrad = no_grad();
        var weights = gpt.parameters().Where(p => p.dim() == 2).ToList();
        var inputs = weights.Select(w => randn(1, w.shape[1])).ToList();
        void Pass() { for (int i = 0; i < weights.Count; i++) F.linear(inputs[i], weights[i]).Dispose(); }
        try
        {
            Pass();
            var clock = Stopwatch.StartNew();
            const int passes = 50;
            for (int i = 0; i < passes; i++) Pass();
            return (clock.Elapsed.TotalSeconds / passes, weights.Sum(w => w.numel() * 4.0) / 1e6);
        }
        finally { inputs.ForEach(x => x.Dispose()); }
    }
}
