// The kit's environment variables in one place: what each accepts, and the checks every entry point runs before any
// work. A typo in a value (KIT_SCALE=quik, KIT_MALLOC=tcmalloc) or in a name (KIT_SCAEL) would otherwise be ignored and
// the run would silently go on at another scale, allocator or data set; here it is an error that names the variable,
// the value and what was expected. Relative folders are resolved against the directory the user ran the command from:
// the notebook runner works inside the notebook's folder, where a relative KIT_CACHE would mean another place.
namespace Kit.Core;

/// <summary>One environment variable the kit reads.</summary>
/// <param name="Name">The variable.</param>
/// <param name="Expected">What it accepts, as the error message says it.</param>
/// <param name="Check">Null for a good value, else why it is wrong (without the variable's name).</param>
public sealed record KitVariable(string Name, string Expected, Func<string, string?> Check);

/// <summary>The kit's environment variables and their checks.</summary>
public static class KitEnvironment
{
    /// <summary>The variable that hides installed optional data (WordNet, Fashion-MNIST): the README-only path on any machine.</summary>
    public const string OptionalData = "KIT_OPTIONAL_DATA";

    /// <summary>Every variable the kit reads.</summary>
    public static readonly IReadOnlyList<KitVariable> Variables = new KitVariable[]
    {
        new("KIT_DEVICE", "'auto', 'cpu', 'cuda' or 'cuda:N'", v => OneOf(v.Trim().ToLowerInvariant(), "auto", "cpu",
            "cuda") || System.Text.RegularExpressions.Regex.IsMatch(v.Trim().ToLowerInvariant(), @"^cuda:\d+$") ? null : "not a device"),
        new("KIT_SCALE", "'quick', 'default' or 'full'", v => OneOf(v.Trim().ToLowerInvariant(), "quick", "default",
            "full") ? null : "not a scale"),
        new(Allocator.EnvironmentVariable, "'kit' (the default: glibc malloc tuned by the kit) or 'system' (glibc malloc untuned)",
            v => OneOf(v, "kit", "system") ? null : "not an allocator setting"),
        new(OptionalData, "'use' (the default: WordNet and Fashion-MNIST where installed) or 'ignore' (run as if neither were installed)",
            v => OneOf(v, "use", "ignore") ? null : "not an optional-data setting"),
        new("KIT_CACHE", "a folder the kit may write (created when missing)", v => FolderProblem(v, mustExist: false)),
        new("KIT_DATA", "an existing folder holding Fashion-MNIST's IDX files", v => FolderProblem(v, mustExist: true)),
    };

    static bool OneOf(string value, params string[] allowed) => allowed.Contains(value);

    /// <summary>The directory relative folders are resolved against: where the process started (captured when the kit first
    /// loads).</summary>
    public static string StartDirectory { get; } = Directory.GetCurrentDirectory();

    /// <summary>A folder value as an absolute path: relative ones against <see cref="StartDirectory"/>, a leading ~/ against the home
    /// folder.</summary>
    public static string AbsoluteFolder(string value)
    {
        var v = value.Trim();
        if (v == "~" || v.StartsWith("~/", StringComparison.Ordinal))
            v = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), v.Length > 2 ? v[2..] : "");
        return Path.GetFullPath(v, StartDirectory);
    }

    static string? FolderProblem(string value, bool mustExist)
    {
        if (string.IsNullOrWhiteSpace(value)) return "empty";
        var path = AbsoluteFolder(value);
        if (File.Exists(path)) return $"{path} is a file";
        if (mustExist && !Directory.Exists(path)) return $"{path} does not exist";
        return null;
    }

    /// <summary>True when <see cref="OptionalData"/> is 'ignore': the kit behaves as if WordNet and Fashion-MNIST were not
    /// installed.</summary>
    public static bool OptionalDataHidden => Environment.GetEnvironmentVariable(OptionalData)?.Trim() == "ignore";

    /// <summary>
    /// Every problem with the KIT_* variables set now: a value a variable does not accept, or a KIT_ name the kit does not
    /// read (with the closest known name). Empty when all is well.
    /// </summary>
    public static IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var name = (string)e.Key;
            var value = (string?)e.Value ?? "";
            if (!name.StartsWith("KIT_", StringComparison.Ordinal)) continue;
            var known = Variables.FirstOrDefault(v => v.Name == name);
            if (known is null)
            {
                var closest = Variables.OrderBy(v => Distance(v.Name, name)).First();
                problems.Add($"{name} is not a variable the kit " +
                    $"reads{(Distance(closest.Name, name) <= 3 ? $" (did you mean {closest.Name}?)" : "")}; " +
                    $"the kit reads {string.Join(", ", Variables.Select(v => v.Name))}.");
                continue;
            }
            if (value.Length == 0) continue; // set but empty: the same as unset
            if (known.Check(value) is string why)
                problems.Add($"{name}='{value}': {why}; expected {known.Expected}.");
        }
        return problems;
    }

    /// <summary>Throws an ArgumentException listing every problem of <see cref="Problems"/>; does nothing when there is none.</summary>
    public static void Check()
    {
        var problems = Problems();
        if (problems.Count > 0) throw new ArgumentException(string.Join("\n", problems));
    }

    /// <summary>Rewrites KIT_CACHE and KIT_DATA as absolute paths (against <see cref="StartDirectory"/>), so a change of working directory
    /// later does not move them.</summary>
    public static void ResolveFolders()
    {
        foreach (var name in new[] { "KIT_CACHE", "KIT_DATA" })
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } value && !string.IsNullOrWhiteSpace(value))
                Environment.SetEnvironmentVariable(name, AbsoluteFolder(value));
    }

    /// <summary>
    /// Creates <paramref name="folder"/> when missing and proves it writable by writing and deleting a file in it; checks
    /// that its file system has at least <paramref name="minimumFreeBytes"/> free. <paramref name="what"/> names it in the
    /// error (e.g. "KIT_CACHE='…'" or "--out '…'"). Returns the absolute folder.
    /// </summary>
    public static string EnsureWritableFolder(string folder, string what, long minimumFreeBytes = 64L << 20)
    {
        var path = Path.GetFullPath(folder);
        if (File.Exists(path)) throw new ArgumentException($"{what}: {path} is a file; expected a folder.");
        try { Directory.CreateDirectory(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{what}: the folder {path} cannot be created ({e.Message}); expected a folder the kit may write.");
        }
        var probe = Path.Combine(path, $".kit-write-check.{Environment.ProcessId}.{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(probe, new byte[] { 1 });
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(probe); } catch (Exception) { }
            throw new ArgumentException($"{what}: {path} is not writable ({e.Message}); expected a folder the kit may write.");
        }
        long free;
        try { free = new DriveInfo(path).AvailableFreeSpace; }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException) { free = long.MaxValue; }
        if (free < minimumFreeBytes)
            throw new ArgumentException($"{what}: {path} has {free / (1 << 20):N0} MiB free; the kit needs at least " +
                $"{minimumFreeBytes / (1 << 20):N0} MiB there.");
        return path;
    }

    // Edit distance, for "did you mean".
    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
