// Finds the system shared libraries the dynamic loader would bind (libstdc++.so.6, libc.so.6, ...) and
// the symbol versions they define, so the kit can tell whether a native library will load.
namespace Kit.Core.Native;

/// <summary>Locates system shared libraries the way ld.so would for a plain soname.</summary>
public static class SystemLibraries
{
    static readonly string[] StandardDirectories =
    {
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
        "/lib64", "/usr/lib64", "/lib", "/usr/lib",
    };

    /// <summary>
    /// Path of the library named <paramref name="soname"/> this process uses (already mapped), else the
    /// first match in LD_LIBRARY_PATH and the standard directories; null when none is found.
    /// </summary>
    public static string? Find(string soname)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && Path.GetFileName(line[slash..]) == soname) return line[slash..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var dirs = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(StandardDirectories);
        return dirs.Select(d => Path.Combine(d, soname)).FirstOrDefault(File.Exists);
    }

    /// <summary>For each file a library requires versions from, the versions the system copy defines.</summary>
    public static Dictionary<string, IReadOnlySet<string>> DefinitionsFor(ElfFile library)
    {
        var result = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        foreach (var file in library.VersionNeeds().Select(n => n.File).Distinct())
        {
            var path = Find(file);
            if (path is null) continue; // not on this system: ld.so will say so itself
            result[file] = ElfFile.Read(path).VersionDefinitions();
        }
        return result;
    }
}
