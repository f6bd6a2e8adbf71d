// The memory allocator, set up by the kit itself. libtorch allocates every tensor with malloc; glibc's malloc serves a
// block above its mmap threshold (128 KiB at first, growing to 32 MiB) with a fresh mmap and returns it with munmap, so
// every large tensor of every op is page-faulted and zero-filled again by the kernel, and freed heap memory is trimmed
// back to the system and faulted in again. On a 2-core machine that made large tensor ops several times slower than
// with tcmalloc. glibc can be told not to: mallopt, at run time, from inside the process — no package, no preload, no
// environment — so it holds wherever the kit's assembly loads (the `kit` command, `dotnet test`, a notebook kernel, an
// exported app). The kit sets: no mmap for blocks (M_MMAP_MAX = 0: they come from the heap and are reused), no
// trimming (M_TRIM_THRESHOLD at its maximum), and 64 MiB of slack per heap extension (M_TOP_PAD). The memory a process
// reaches stays mapped until it exits, which is what tcmalloc does too.
// Where the kit starts the process itself (the launcher, the test settings) it also sets GLIBC_TUNABLES with the same
// values plus glibc.malloc.hugetlb=1, which backs the heap with transparent huge pages; that one only exists as an
// environment tunable read at process start. KIT_MALLOC=system leaves glibc as it is (for comparisons: run a bench with it set);
// KIT_MALLOC=kit (or unset) is the default.
using System.Runtime.InteropServices;

namespace Kit.Core;

/// <summary>Which allocator serves tensors, and the kit's tuning of glibc's malloc.</summary>
public static class Allocator
{
    const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_MAX = -4;
    /// <summary>The environment variable that turns the tuning off (value "system").</summary>
    public const string EnvironmentVariable = "KIT_MALLOC";

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int Mallopt(int parameter, int value);

    static readonly object Gate = new();
    static string? _state;

    /// <summary>Tunes glibc's malloc once per process (no-op elsewhere); safe to call repeatedly.</summary>
    public static void Tune()
    {
        lock (Gate)
        {
            if (_state is not null) return;
            if (!OperatingSystem.IsLinux()) { _state = "the system's allocator (not Linux: nothing to tune)"; return; }
            if (Preloaded() is string other) { _state = $"{other} (preloaded; the kit leaves it as it is)"; return; }
            var setting = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (setting == "system") { _state = $"glibc malloc, untuned ({EnvironmentVariable}=system)"; return; }
            // An unknown value is reported by KitEnvironment.Check (every entry point runs it); here, before Main, the default holds.
            if (setting is { Length: > 0 }
                && setting != "kit") _state = $"{EnvironmentVariable}='{setting}' is not a setting (expected 'kit' or 'system'): ";
            try
            {
                bool ok = Mallopt(M_MMAP_MAX, 0) == 1 & Mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1 & Mallopt(M_TOP_PAD, 64 << 20) == 1;
                _state += ok ? "glibc malloc, tuned by the kit (no mmap per block, no trimming, 64 MiB top pad)"
                    : "glibc malloc (mallopt refused the kit's tuning)";
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                _state = "the system's allocator (no glibc mallopt: nothing to tune)";
            }
        }
    }

    /// <summary>One line for `kit info` and every bench header: the allocator, its tuning, and huge pages.</summary>
    public static string Describe()
    {
        Tune();
        var tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "";
        bool hugePages = tunables.Contains("glibc.malloc.hugetlb=1", StringComparison.Ordinal)
            || tunables.Contains("glibc.malloc.hugetlb=2", StringComparison.Ordinal);
        return _state + (_state!.Contains("glibc malloc, tuned", StringComparison.Ordinal)
            ? hugePages ? "; transparent huge pages on (GLIBC_TUNABLES)"
                : "; transparent huge pages off (set only where the kit starts the process: ./kit, dotnet test)"
            : "");
    }

    /// <summary>The name of a malloc replacement loaded into this process (tcmalloc, jemalloc, mimalloc), or null.</summary>
    public static string? Preloaded()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
                foreach (var name in new[] { "tcmalloc", "jemalloc", "mimalloc" })
                    if (line.Contains("lib" + name, StringComparison.Ordinal)) return name;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
