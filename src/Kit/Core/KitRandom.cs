// The kit's own random numbers (data generation, shuffling): SplitMix64, so a seed gives the same
// sequence on every machine and every .NET version, independent of torch's generator.
namespace Kit.Core;

/// <summary>Small, fast, portable pseudo-random generator (SplitMix64).</summary>
public sealed class KitRandom
{
    ulong _state;

    public KitRandom(ulong seed) => _state = seed;

    /// <summary>A generator for one item of a keyed family, e.g. (dataset seed, split, index).</summary>
    public static KitRandom For(params long[] keys)
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        foreach (var k in keys) h = Mix(h ^ (ulong)k);
        return new KitRandom(h);
    }

    public ulong NextUInt64() => Mix(_state += 0x9E3779B97F4A7C15UL);

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int Next(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "expected a positive upper bound");
        return (int)(NextDouble() * n);
    }

    /// <summary>Uniform in [lo, hi).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>Standard normal (Box–Muller).</summary>
    public double Normal()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A random permutation of 0..n-1 (Fisher–Yates).</summary>
    public int[] Permutation(int n)
    {
        var p = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--) { int j = Next(i + 1); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
