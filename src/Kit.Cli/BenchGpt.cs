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
    public static ResultTable Run(double peak, int steps)
    {
        var rows = new List<IReadOnlyList<object?>>();
        Seeding.SeedEverything(0);
        var config = new GptConfig(VocabSize: 4096);
        using (var gpt = new Gpt(config))
        {
            var optimizer = optim.AdamW(gpt.parameters(), 1e-3);
            int batch = 16, t = config.ContextLength;
            void Step() => Scopes.Run(() =>
            {
                var tokens = randint(config.VocabSize, new long[] { batch, t + 1 });
                var hidden = gpt.Hidden(gpt.Embed(tokens.narrow(1, 0, t)));
                var loss = gpt.Head.TokenLosses(hidden, tokens.narrow(1, 1, t)).mean();
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            });
            for (int i = 0; i < 2; i++) Step();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++) Step();
            double tokensPerSecond = steps * batch * (double)t / clock.Elapsed.TotalSeconds;
            double gflops = tokensPerSecond * config.TrainFlopsPerToken(t) / 1e9;
            rows.Add(new object?[] { $"train: {config.Layers} layers, d={config.Dim}, T={t}, V={config.VocabSize}, batch {batch}", tokensPerSecond, gflops, 100 * gflops / peak, "" });
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
            rows.Add(new object?[] { $"generate {generated} tokens, KV cache", generated / cachedSeconds, double.NaN, double.NaN, same ? "same tokens as recomputation" : "DIFFERENT tokens" });
            rows.Add(new object?[] { $"generate {generated} tokens, recompute", generated / fullSeconds, double.NaN, double.NaN, $"cache is {fullSeconds / cachedSeconds:0.0}× faster" });
            // At batch 1 a cached step is a few hundred tiny ops; with two intra-op threads some kernels (LayerNorm) pay a
            // thread wake-up each call. One thread shows what the cache costs without that overhead.
            int threads = get_num_threads();
            set_num_threads(1);
            try
            {
                Greedy(gpt, prompt, 16, useCache: true);
                var (single, singleSeconds) = Greedy(gpt, prompt, generated, useCache: true);
                rows.Add(new object?[] { $"generate {generated} tokens, KV cache, 1 thread", generated / singleSeconds, double.NaN, double.NaN,
                    (single.SequenceEqual(full) ? "same tokens; " : "DIFFERENT tokens; ") + $"{fullSeconds / singleSeconds:0.0}× faster than recomputation on {threads} threads" });
            }
            finally { set_num_threads(threads); }
        }
        return ResultTable.FromRows("GPT: training MFU and generation with / without the KV cache", new[] { "case", "tokens/s", "GFLOP/s", "% of matmul peak", "note" }, rows,
            note: "Targets: ≥ 65 % of the matmul peak for training; the KV cache ≥ 10× faster than recomputation at 256 generated tokens.");
    }

    static (long[] Tokens, double Seconds) Greedy(Gpt gpt, Tensor prompt, int count, bool useCache)
    {
        using var noGrad = no_grad();
        using var cache = useCache ? new KvCache(gpt.Config.Layers, gpt.Config.ContextLength) : null;
        var tokens = new List<long>(prompt.data<long>().ToArray());
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            long next = Scopes.Step(() =>
            {
                var input = useCache && i > 0 ? tensor(new[] { tokens[^1] }).unsqueeze(0) : tensor(tokens.ToArray()).unsqueeze(0);
                var hidden = gpt.Hidden(gpt.Embed(input), cache);
                return gpt.Head.FlatLogits(hidden.narrow(1, hidden.shape[1] - 1, 1)).argmax(-1).item<long>();
            });
            tokens.Add(next);
        }
        return (tokens.Skip((int)prompt.shape[1]).ToArray(), clock.Elapsed.TotalSeconds);
    }
}
