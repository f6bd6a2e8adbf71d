// The local package feed the notebooks' first cell resolves the kit from (`#r "nuget: Kit, *-*"`, with
// notebooks/nuget.config naming ../.kit-feed as a source: the .NET Interactive kernel accepts no relative `#i` source).
// Each pack is a newer prerelease (0.1.0-dev.<UTC time>), so a kernel's NuGet cache never serves a stale build.
using System.Diagnostics;
using System.Globalization;

namespace Kit.Cli.Notebooks;

/// <summary>Packs the kit into a folder that serves as a NuGet source.</summary>
public static class LocalFeed
{
    /// <summary>The repository's feed: .kit-feed at its root.</summary>
    public static string DefaultFolder(string repositoryRoot) => Path.Combine(repositoryRoot, ".kit-feed");

    /// <summary>Packs src/Kit into <paramref name="feed"/>; returns the package's path. A failed pack throws with its output.</summary>
    public static string Pack(string repositoryRoot, string feed, TextWriter log)
    {
        var project = Path.Combine(repositoryRoot, "src", "Kit", "Kit.csproj");
        if (!File.Exists(project)) throw new FileNotFoundException($"the kit's project '{project}' does not exist; pack runs inside " +
            $"the kit's repository.", project);
        var suffix = "dev." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);
        var (code, output) = Run("dotnet", repositoryRoot, "pack", project, "-c", "Release", "-o", feed, "--version-suffix", suffix,
            "-nologo", "-v", "quiet");
        if (code != 0) throw new InvalidOperationException($"dotnet pack failed (exit {code}):\n{output}");
        var package = Path.Combine(feed, $"Kit.0.1.0-{suffix}.nupkg");
        if (!File.Exists(package)) package = Directory.GetFiles(feed, "Kit.*.nupkg").OrderBy(File.GetLastWriteTimeUtc).Last();
        // Older packs are never read again (the kernel takes the newest): keep the last three.
        foreach (var old in Directory.GetFiles(feed, "Kit.*.nupkg").OrderByDescending(File.GetLastWriteTimeUtc).Skip(3)) File.Delete(old);
        log.WriteLine($"kit: packed {package}");
        return package;
    }

    /// <summary>Runs a program to completion; its exit code and its standard output and error together.</summary>
    internal static (int Code, string Output) Run(string program, string directory, params string[] arguments) =>
        Run(program, directory, new Dictionary<string, string>(), arguments);

    /// <summary>Runs a program with extra environment variables; its exit code and its output.</summary>
    internal static (int Code, string Output) Run(string program, string directory, IReadOnlyDictionary<string, string> environment,
        params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = directory, RedirectStandardOutput = true,
            RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}.");
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        return (process.ExitCode, output.ToString());
    }
}
