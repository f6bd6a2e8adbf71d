// Makes TorchSharp's native library load before TorchSharp tries, on systems whose libstdc++ is older
// than the one it was built against (Debian 12, Ubuntu 22.04: GLIBCXX_3.4.30 < 3.4.32). Runs once, from
// the kit's module initializer, so users never call it. See ElfVersionPatcher for why the patch is safe.
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Kit.Core.Native;

/// <summary>What the loader found and did; shown by <c>KitRuntime.Describe()</c>.</summary>
public sealed record NativeLoadReport(string? Original, string? Loaded, IReadOnlyList<string> Weakened, string Note);

/// <summary>Detects an unloadable libLibTorchSharp.so and loads a patched copy in its place.</summary>
public static class TorchNativeLoader
{
    const string LibraryFile = "libLibTorchSharp.so";
    static readonly object Gate = new();
    static NativeLoadReport? _report;

    /// <summary>The outcome of the first <see cref="EnsureLoadable"/> call.</summary>
    public static NativeLoadReport Report => _report ?? EnsureLoadable();

    /// <summary>Idempotent; never throws (a failure is recorded in the report and printed once).</summary>
    public static NativeLoadReport EnsureLoadable()
    {
        lock (Gate)
        {
            if (_report is not null) return _report;
            try { _report = Prepare(); }
            catch (Exception e)
            {
                _report = new NativeLoadReport(null, null, Array.Empty<string>(), $"native check failed: {e.Message}");
                Console.Error.WriteLine($"kit: could not prepare TorchSharp's native library: {e.Message}");
            }
            return _report;
        }
    }

    static NativeLoadReport Prepare()
    {
        if (!OperatingSystem.IsLinux()) return new(null, null, Array.Empty<string>(), "not Linux: nothing to check");
        var torchAssembly = typeof(TorchSharp.torch).Assembly; // typeof does not run torch's static constructor
        var original = LocateOriginal(torchAssembly);
        if (original is null) return new(null, null, Array.Empty<string>(), $"{LibraryFile} not found; TorchSharp will search itself");

        var bytes = File.ReadAllBytes(original);
        var elf = new ElfFile(bytes, original);
        var available = SystemLibraries.DefinitionsFor(elf);
        var missing = ElfVersionPatcher.MissingVersions(elf, available);
        if (missing.Count == 0)
        {
            var weakMissing = elf.VersionNeeds().Where(n => n.IsWeak && available.TryGetValue(n.File,
                out var d) && !d.Contains(n.Name)).ToList();
            return new(original, original, weakMissing.Select(m => $"{m.Name} ({m.File})").ToList(),
                weakMissing.Count == 0 ? "loads as shipped" : "already patched by the kit");
        }

        var patched = ElfVersionPatcher.Weaken(bytes, original, missing);
        var names = missing.Select(m => $"{m.Name} ({m.File})").ToList();
        var target = IsUnder(original, AppContext.BaseDirectory)
            ? original                                   // our own build output: replace the copy in place
            : Path.Combine(CacheDirectory(), Hash(bytes), LibraryFile); // a package cache: never touch it
        WriteAtomically(target, patched.Bytes, File.GetLastWriteTimeUtc(original));
        // Outside our build output the patched copy lives in the kit's cache, where TorchSharp will not
        // look. Loading it (and the libtorch libraries it needs, by full path) now means TorchSharp's own
        // load by name ("LibTorchSharp", "torch_cpu") finds them already in the process: glibc matches a
        // bare library name against the sonames of loaded objects.
        if (target != original) Preload(target, LocateLibtorch(Path.GetDirectoryName(original)!));
        return new(original, target, names, $"weakened {string.Join(", ", names)}: the system lacks them and no used symbol needs them");
    }

    static void Preload(string patched, string? libtorchDirectory)
    {
        if (libtorchDirectory is not null)
            foreach (var dep in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
            {
                var depPath = Path.Combine(libtorchDirectory, dep);
                if (File.Exists(depPath)) NativeLibrary.Load(depPath);
            }
        NativeLibrary.Load(patched);
    }

    static string? LocateOriginal(Assembly torchAssembly)
    {
        var dirs = new List<string> { AppContext.BaseDirectory };
        if (!string.IsNullOrEmpty(torchAssembly.Location)) dirs.Add(Path.GetDirectoryName(torchAssembly.Location)!);
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        foreach (var dir in dirs)
            foreach (var candidate in new[] { Path.Combine(dir, LibraryFile), Path.Combine(dir, "runtimes", "linux-x64", "native",
                LibraryFile) })
                if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        // A notebook kernel resolves packages straight from the NuGet cache.
        var version = torchAssembly.GetName().Version;
        var cached = Path.Combine(NuGetPackagesDirectory(), "torchsharp", $"{version!.Major}.{version.Minor}.{version.Build}", "runtimes",
            "linux-x64", "native", LibraryFile);
        return File.Exists(cached) ? cached : null;
    }

    static string? LocateLibtorch(string nextTo)
    {
        if (File.Exists(Path.Combine(nextTo, "libtorch_cpu.so"))) return nextTo;
        var root = NuGetPackagesDirectory();
        foreach (var package in new[] { "libtorch-cpu-linux-x64" }.Concat(SafeDirs(root,
            "libtorch-cuda-*-linux-x64").Select(Path.GetFileName)))
            foreach (var versionDir in SafeDirs(Path.Combine(root, package!), "*").OrderByDescending(d => d, StringComparer.Ordinal))
            {
                var native = Path.Combine(versionDir, "runtimes", "linux-x64", "native");
                if (File.Exists(Path.Combine(native, "libtorch_cpu.so"))) return native;
            }
        return null;
    }

    static IEnumerable<string> SafeDirs(string dir, string pattern) =>
        Directory.Exists(dir) ? Directory.EnumerateDirectories(dir, pattern) : Enumerable.Empty<string>();

    static string NuGetPackagesDirectory() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>Where the kit keeps patched native libraries: $KIT_CACHE/native or ~/.cache/kit/native.</summary>
    public static string CacheDirectory() => Path.Combine(KitPaths.CacheRoot, "native");

    static bool IsUnder(string path, string dir) =>
        Path.GetFullPath(path).StartsWith(Path.GetFullPath(dir).TrimEnd('/') + "/", StringComparison.Ordinal);

    static string Hash(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes))[..16].ToLowerInvariant();

    // Temp file + rename: a reader (another process loading it) sees the old file or the new, never half.
    // The original's timestamp is kept so MSBuild's incremental copy sees "unchanged" and leaves it be.
    static void WriteAtomically(string target, byte[] bytes, DateTime lastWriteUtc)
    {
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(bytes)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temp, bytes);
        File.SetLastWriteTimeUtc(temp, lastWriteUtc);
        File.Move(temp, target, overwrite: true);
    }
}
