// The physical float32 bound the benches print beside the measured matmul peak: FLOP per cycle from the CPU's vendor,
// family and flags, checked against the vendors' published pipe counts (two FMA pipes of the vector width; Zen 4 runs
// AVX-512 on 256-bit pipes), and the measured peak's warm-up and choice of size.
using Kit.Core;

namespace Kit.Tests;

public class PhysicalPeakTests
{
    static HashSet<string> Flags(string flags) => flags.Split(' ').ToHashSet();

    [Fact]
    public void FlopsPerCycleFollowTheFmaPipes()
    {
        // 2 pipes × 16 float32 lanes × 2 (multiply and add) on Intel's AVX-512 cores, 2 × 8 × 2 on AVX2 ones.
        Assert.Equal(64, KitRuntime.FlopsPerCycle("GenuineIntel", 6, Flags("sse2 avx avx2 fma avx512f")).PerCycle);
        Assert.Equal(32, KitRuntime.FlopsPerCycle("GenuineIntel", 6, Flags("sse2 avx avx2 fma")).PerCycle);
        // Zen 3 (family 25, no AVX-512) and Zen 4 (family 25 with AVX-512, double-pumped): 2 × 8 × 2.
        Assert.Equal(32, KitRuntime.FlopsPerCycle("AuthenticAMD", 25, Flags("avx avx2 fma")).PerCycle);
        Assert.Equal(32, KitRuntime.FlopsPerCycle("AuthenticAMD", 25, Flags("avx avx2 fma avx512f")).PerCycle);
        // Zen 5 (family 26): full-width 512-bit pipes.
        Assert.Equal(64, KitRuntime.FlopsPerCycle("AuthenticAMD", 26, Flags("avx avx2 fma avx512f")).PerCycle);
        // AVX without FMA: one 8-lane multiply pipe and one add pipe; SSE: 4 lanes each.
        Assert.Equal(16, KitRuntime.FlopsPerCycle("GenuineIntel", 6, Flags("sse2 avx")).PerCycle);
        Assert.Equal(8, KitRuntime.FlopsPerCycle("GenuineIntel", 6, Flags("sse2")).PerCycle);
    }

    [Fact]
    public void MeasuredPeakIsTheBestOfItsSizes()
    {
        var peak = KitRuntime.MeasureMatmulPeak(repeats: 1);
        Assert.Contains(peak.Shape, KitRuntime.PeakShapes);
        Assert.True(peak.Gflops > 0, $"peak {peak.Gflops} GFLOP/s");
        var text = KitRuntime.DescribePeaks(peak);
        Assert.Contains($"after warm-up: {peak.Shape})", text);
        Assert.Equal("2048×256·256×1024", new KitRuntime.MatmulShape(2048, 256, 1024).ToString());
        Assert.Equal("512²", new KitRuntime.MatmulShape(512, 512, 512).ToString());
        Assert.Contains("physical float32 peak", text);
    }
}
