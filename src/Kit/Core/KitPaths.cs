// Where the kit reads data and keeps caches; every location can be moved with an environment variable.
namespace Kit.Core;

/// <summary>Well-known folders: the repository root, the cache, the run output folder.</summary>
public static class KitPaths
{
    /// <summary>Cache root: $KIT_CACHE (a relative one against the directory the process started in), else $XDG_CACHE_HOME/kit, else
    /// ~/.cache/kit.</summary>
    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("KIT_CACHE") is { Length: > 0 } kit && !string.IsNullOrWhiteSpace(kit)
            ? KitEnvironment.AbsoluteFolder(kit)
        : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "kit")
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "kit");

    /// <summary>
    /// The kit's repository root (the folder holding Kit.sln), searched upward from the working
    /// directory and from the running assembly; null when the kit runs outside its repository.
    /// </summary>
    public static string? RepositoryRoot =>
        FindUpward(Directory.GetCurrentDirectory()) ?? FindUpward(AppContext.BaseDirectory);

    /// <summary>
    /// <paramref name="path"/> made absolute with every symbolic link on it followed (what realpath(3) gives); the part of
    /// the path that does not exist yet is appended as it is. Two paths name the same file when their real paths are equal.
    /// </summary>
    public static string RealPath(string path) => RealPath(Path.GetFullPath(path), depth: 0);

    static string RealPath(string full, int depth)
    {
        if (depth > 40) throw new IOException($"{full}: too many levels of symbolic links.");
        var root = Path.GetPathRoot(full)!;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var current = root;
        for (int i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            FileSystemInfo info = new FileInfo(next);
            if (info.LinkTarget is string target)
                current = RealPath(Path.GetFullPath(target, current), depth + 1);
            else if (Directory.Exists(next) || File.Exists(next))
                current = next;
            else
                return Path.Combine(new[] { current }.Concat(parts[i..]).ToArray());
        }
        return current;
    }

    static string? FindUpward(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Kit.sln"))) return dir.FullName;
        return null;
    }
}
