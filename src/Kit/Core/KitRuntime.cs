// A one-call summary of the environment, for the first cell of every notebook and `kit info`.
using System.Diagnostics;
using Kit.Core.Native;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>What the kit runs on: device, threads, native-library status, matmul peak.</summary>
public static class KitRuntime
{
    /// <summary>Several lines: kit and TorchSharp versions, device, native-library fix, allocator, cache folder, data availability.</summary>
    public static string Describe()
    {
        var native = TorchNativeLoader.Report;
        return string.Join("\n", new[]
        {
            $"Kit {typeof(KitRuntime).Assembly.GetName().Version} on TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, .NET {Environment.Version}",
            Devices.Describe(),
            $"native library: {native.Note}" + (native.Loaded is not null && native.Loaded != native.Original ? $" (loaded {native.Loaded})" : ""),
            $"allocator: {Allocator.Describe()}",
            $"cache: {KitPaths.CacheRoot} (trained artifacts; KIT_CACHE moves it)",
            $"Fashion-MNIST: {(Kit.Data.FashionMnist.Locate() is string d ? d : "not installed (" + Kit.Data.FashionMnist.InstallCommand + ")")}",
            $"WordNet: {(File.Exists(Path.Combine(Kit.Language.TextCorpus.WordNetDirectory, "data.noun")) ? Kit.Language.TextCorpus.WordNetDirectory : "not installed (sudo apt-get install wordnet-base)")}",
        });
    }

    /// <summary>
    /// The hardware's float32 limit in GFLOP/s — physical cores this process may use × the reported clock × FLOP per
    /// cycle from the vector extensions (two FMA pipes: AVX-512 64, AVX2 + FMA 32, AVX 16, else 8) — with how it was
    /// found; null where /proc/cpuinfo does not say (not Linux). An upper bound at the base clock: a turbo clock above
    /// the reported one, or one FMA pipe instead of two, moves it, which the description says.
    /// </summary>
    public static (double Gflops, string Description)? PhysicalPeak()
    {
        if (!File.Exists("/proc/cpuinfo")) return null;
        var blocks = File.ReadAllText("/proc/cpuinfo").Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(b => b.Split('\n').Select(l => l.Split(':', 2)).Where(p => p.Length == 2).GroupBy(p => p[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim()))
            .Where(d => d.ContainsKey("processor")).ToList();
        if (blocks.Count == 0 || !blocks[0].TryGetValue("cpu MHz", out var mhzText)
            || !double.TryParse(mhzText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var mhz)) return null;
        int physical = blocks.Select(d => (d.GetValueOrDefault("physical id"), d.GetValueOrDefault("core id"))).Distinct().Count();
        int cores = Math.Min(Math.Min(physical, Environment.ProcessorCount), get_num_threads());
        var flags = blocks[0].GetValueOrDefault("flags", "").Split(' ').ToHashSet();
        var (perCycle, simd) = flags.Contains("avx512f") ? (64, "AVX-512") : flags.Contains("avx2") && flags.Contains("fma") ? (32, "AVX2 + FMA")
            : flags.Contains("avx") ? (16, "AVX") : (8, "SSE");
        double gflops = cores * mhz / 1000 * perCycle;
        return (gflops, $"{cores} core(s) × {mhz / 1000:0.00} GHz (as /proc/cpuinfo reports it) × {perCycle} FLOP/cycle ({simd}, two FMA pipes) = {gflops:0} GFLOP/s");
    }

    /// <summary>
    /// Float32 matmul throughput in GFLOP/s on <paramref name="device"/> (default: the kit's device),
    /// the reference peak that training speed is reported against (as a fraction, like nanoGPT's MFU).
    /// </summary>
    public static double MeasureMatmulGflops(int size = 2048, int repeats = 5, Device? device = null)
    {
        device ??= Devices.Default;
        using var scope = NewDisposeScope();
        var a = randn(size, size, device: device);
        var b = randn(size, size, device: device);
        a.matmul(b).sum().item<float>(); // warm-up (and a sync)
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            a.matmul(b).sum().item<float>();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        return 2.0 * size * size * (double)size / times[times.Count / 2] / 1e9;
    }
}
