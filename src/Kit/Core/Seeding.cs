// One call that makes a run repeatable: torch's CPU (and CUDA) generators and the kit's own.
// What "same seed, same numbers" covers: runs on the same device and thread count. TorchSharp 0.107 has
// no torch.use_deterministic_algorithms (it throws NotImplementedException), so some CUDA kernels
// (atomics in scatter/index_add, cuDNN autotuning) may still differ in the last bits between GPU runs.
using static TorchSharp.torch;

namespace Kit.Core;

/// <summary>Seeds every random generator the kit uses.</summary>
public static class Seeding
{
    /// <summary>The seed of the last <see cref="SeedEverything"/> call (0 before any).</summary>
    public static long Current { get; private set; }

    /// <summary>The kit's own generator, reset by <see cref="SeedEverything"/>.</summary>
    public static KitRandom Random { get; private set; } = new(0);

    /// <summary>Seeds torch (CPU and every CUDA device) and the kit's generator; returns the kit's generator.</summary>
    public static KitRandom SeedEverything(long seed)
    {
        Current = seed;
        manual_seed(seed);
        if (cuda.is_available()) cuda.manual_seed_all(seed);
        Random = new KitRandom((ulong)seed);
        return Random;
    }
}
