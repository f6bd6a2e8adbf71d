// A one-call summary of the environment, for the first cell of every notebook and `kit info`.
using System.Diagnostics;
using Kit.Core.Native;
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>What the kit runs on: device, threads, native-library status, matmul peak.</summary>
public static class KitRuntime
{
    /// <summary>Several lines: kit and TorchSharp versions, device, native-library fix, allocator, cache folder (the optional data:
    /// <c>Kit.Data.OptionalData</c>).</summary>
    /// <remarks>Checks the kit's environment variables first: a bad value or an unknown KIT_ name is an ArgumentException naming
    /// it.</remarks>
    public static string Describe()
    {
        KitEnvironment.Check();
        var native = TorchNativeLoader.Report;
        return string.Join("\n", new[]
        {
            $"Kit {typeof(KitRuntime).Assembly.GetName().Version} on TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, " +
                $".NET {Environment.Version}",
            Devices.Describe(),
            $"native library: {native.Note}"
                + (native.Loaded is not null && native.Loaded != native.Original ? $" (loaded {native.Loaded})" : ""),
            $"allocator: {Allocator.Describe()}",
            $"cache: {KitPaths.CacheRoot} (trained artifacts; KIT_CACHE moves it)",
        });
    }

    /// <summary>
    /// The hardware's float32 limit in GFLOP/s — physical cores this process may use × the reported clock × FLOP per
    /// cycle (<see cref="FlopsPerCycle"/>) — with how it was found; null where /proc/cpuinfo does not say (not Linux).
    /// A bound at the reported clock: a boost clock above it raises the real limit, which the description says.
    /// </summary>
    public static (double Gflops, double Ghz, string Description)? PhysicalPeak()
    {
        if (!File.Exists("/proc/cpuinfo")) return null;
        var blocks = File.ReadAllText("/proc/cpuinfo").Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(b => b.Split('\n').Select(l => l.Split(':',
                2)).Where(p => p.Length == 2).GroupBy(p => p[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim()))
            .Where(d => d.ContainsKey("processor")).ToList();
        if (blocks.Count == 0 || !blocks[0].TryGetValue("cpu MHz", out var mhzText)
            || !double.TryParse(mhzText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture,
                out var mhz)) return null;
        int physical = blocks.Select(d => (d.GetValueOrDefault("physical id"), d.GetValueOrDefault("core id"))).Distinct().Count();
        int cores = Math.Min(Math.Min(physical, Environment.ProcessorCount), get_num_threads());
        var flags = blocks[0].GetValueOrDefault("flags", "").Split(' ').ToHashSet();
        int.TryParse(blocks[0].GetValueOrDefault("cpu family"), out int family);
        var (perCycle, simd) = FlopsPerCycle(blocks[0].GetValueOrDefault("vendor_id", ""), family, flags);
        double gflops = cores * mhz / 1000 * perCycle;
        return (gflops, mhz / 1000,
            $"{cores} core(s) × {mhz / 1000:0.00} GHz (the clock /proc/cpuinfo reports; a boost clock above it raises the bound) × " +
                $"{perCycle} FLOP/cycle ({simd}) = {gflops:0} GFLOP/s");
    }

    /// <summary>
    /// Float32 FLOP per cycle and core of a CPU's widest FMA units, from its vendor, family and feature flags: two FMA
    /// pipes of the vector width — AVX-512 64, AVX2 + FMA 32, AVX (no FMA: a multiply and an add pipe) 16, else 8 — except
    /// AMD's Zen 3 and Zen 4 (family 25), whose AVX-512 (Zen 4) runs each 512-bit FMA as two halves on 256-bit pipes:
    /// 32, as for AVX2. Zen 5 (family 26) has 512-bit pipes.
    /// </summary>
    public static (int PerCycle, string Simd) FlopsPerCycle(string vendor, int family, IReadOnlySet<string> flags)
    {
        bool fma = flags.Contains("fma");
        if (flags.Contains("avx512f"))
            return vendor == "AuthenticAMD" && family <= 25 ? (32, "AVX-512 on two 256-bit FMA pipes (Zen 4)") : (64,
                "AVX-512, two FMA pipes");
        if (flags.Contains("avx2") && fma) return (32, "AVX2 + FMA, two FMA pipes");
        return flags.Contains("avx") ? (16, "AVX") : (8, "SSE");
    }

    /// <summary>
    /// Float32 matmul throughput in GFLOP/s of one square product <paramref name="size"/>² on <paramref name="device"/>
    /// (default: the kit's device); see <see cref="MeasureProductGflops"/>.
    /// </summary>
    public static double MeasureMatmulGflops(int size = 2048, int repeats = 7, Device? device = null) =>
        MeasureProductGflops(new MatmulShape(size, size, size), repeats, device);

    /// <summary>A product [M, K] · [K, N].</summary>
    public readonly record struct MatmulShape(int M, int K, int N)
    {
        public override string ToString() => M == K && K == N ? $"{M}²" : $"{M}×{K}·{K}×{N}";
    }

    /// <summary>
    /// Float32 throughput in GFLOP/s of the product <paramref name="shape"/>: the median of <paramref name="repeats"/>
    /// timings of about 50 ms each, after two seconds of warm-up — on a 2-core machine the first second of products runs
    /// at well under half speed while the second core's thread comes up, and a shorter timing is at the mercy of one
    /// scheduler tick.
    /// </summary>
    public static double MeasureProductGflops(MatmulShape shape, int repeats = 7, Device? device = null, double warmUpSeconds = 2)
    {
        device ??= Devices.Default;
        using var scope = NewDisposeScope();
        var a = randn(shape.M, shape.K, device: device);
        var b = randn(shape.K, shape.N, device: device);
        double flops = 2.0 * shape.M * shape.K * (double)shape.N;
        int perTiming = (int)Math.Clamp(Math.Ceiling(50e-3 * 100e9 / flops), 1, 256);
        WarmUp(() => Product(a, b), warmUpSeconds);
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            for (int j = 0; j < perTiming; j++) Product(a, b);
            times.Add(clock.Elapsed.TotalSeconds / perTiming);
        }
        times.Sort();
        return flops / times[times.Count / 2] / 1e9;
    }

    /// <summary>
    /// The products <see cref="MeasureMatmulPeak"/> tries: squares, and a transformer layer's [2048 rows, 256] · [256,
    /// 1024] and its transpose-shaped partner — on some CPUs a product with a short inner dimension runs faster than any
    /// square, and a peak that missed it would put a model's own products above 100 %.
    /// </summary>
    public static readonly MatmulShape[] PeakShapes = { new(512, 512, 512), new(1024, 1024, 1024), new(2048, 2048, 2048), new(2048, 256,
        1024), new(2048, 1024, 256) };

    /// <summary>
    /// The float32 matmul peak training speed is reported against (as a fraction, like nanoGPT's MFU): the best of
    /// <see cref="MeasureProductGflops"/> over <see cref="PeakShapes"/> (two seconds of warm-up, then half a second
    /// each), and which shape gave it.
    /// </summary>
    public static (double Gflops, MatmulShape Shape) MeasureMatmulPeak(int repeats = 7, Device? device = null)
    {
        var results = PeakShapes.Select((shape, i) => (Gflops: MeasureProductGflops(shape, repeats, device,
            warmUpSeconds: i == 0 ? 2 : 0.2), Shape: shape)).ToList();
        return results.MaxBy(r => r.Gflops);
    }

    /// <summary>
    /// Two lines: the measured matmul <paramref name="peak"/> (from <see cref="MeasureMatmulPeak"/>) and the physical
    /// bound, with the boost clock the measurement implies where it exceeds the bound at the reported clock.
    /// </summary>
    public static string DescribePeaks((double Gflops, MatmulShape Shape) peak)
    {
        string measured = $"float32 matmul peak, {get_num_threads()} threads: {peak.Gflops:0} GFLOP/s (the best of " +
            $"{string.Join(", ", PeakShapes)} after warm-up: {peak.Shape})";
        if (PhysicalPeak() is not { } p) return measured + "\nphysical float32 peak: not known here (no /proc/cpuinfo)";
        return measured + $"\nphysical float32 peak: {p.Description}"
            + (peak.Gflops > p.Gflops
                ? $"; the measured peak is above it, so the cores ran at a boost clock of at least " +
                    $"{peak.Gflops / p.Gflops * p.Ghz:0.00} GHz" : "");
    }

    /// <summary>
    /// One product, finished and freed at once, so a long timing loop holds no tensors. A CPU product has finished when
    /// it returns; a CUDA one is waited for. (Reading a sum back instead would add a pass over the output, a tenth of
    /// the time of a product with a short inner dimension.)
    /// </summary>
    static void Product(Tensor a, Tensor b)
    {
        using var c = a.MatmulChecked(b);
        if (a.device_type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
    }

    /// <summary>Runs <paramref name="body"/> until <paramref name="seconds"/> have passed (at least twice).</summary>
    static void WarmUp(Action body, double seconds)
    {
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 2 || clock.Elapsed.TotalSeconds < seconds; i++) body();
    }
}
