// Where the kit reads data and keeps caches; every location can be moved with an environment variable.
namespace Kit.Core;

/// <summary>Well-known folders: the repository root, the cache, the run output folder.</summary>
public static class KitPaths
{
    /// <summary>Cache root: $KIT_CACHE, else $XDG_CACHE_HOME/kit, else ~/.cache/kit.</summary>
    public static string CacheRoot =>
        Environment.GetEnvironmentVariable("KIT_CACHE") is { Length: > 0 } kit ? kit
        : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "kit")
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "kit");

    /// <summary>
    /// The kit's repository root (the folder holding Kit.sln), searched upward from the working
    /// directory and from the running assembly; null when the kit runs outside its repository.
    /// </summary>
    public static string? RepositoryRoot =>
        FindUpward(Directory.GetCurrentDirectory()) ?? FindUpward(AppContext.BaseDirectory);

    static string? FindUpward(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Kit.sln"))) return dir.FullName;
        return null;
    }
}
