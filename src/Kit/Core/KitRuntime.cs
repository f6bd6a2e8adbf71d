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
