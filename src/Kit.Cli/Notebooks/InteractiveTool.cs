// The dotnet-interactive tool, the program VS Code's Polyglot Notebooks and Jupyter launch as the .NET kernel, pinned
// by the repository's tool manifest (.config/dotnet-tools.json). `dotnet tool restore` puts it in the NuGet packages
// folder; the kit starts it as `dotnet <its entry assembly>`, which works from any working directory (`dotnet tool run`
// only finds a local tool from inside the repository, and a kernel runs in the notebook's folder).
using System.Text.Json.Nodes;

namespace Kit.Cli.Notebooks;

/// <summary>Finds (after restoring) the pinned dotnet-interactive tool.</summary>
public static class InteractiveTool
{
    const string PackageId = "microsoft.dotnet-interactive";

    /// <summary>Restores the repository's tools and returns the path of dotnet-interactive's entry assembly.</summary>
    public static string Restore(string repositoryRoot)
    {
        var (code, output) = LocalFeed.Run("dotnet", repositoryRoot, "tool", "restore");
        if (code != 0) throw new InvalidOperationException($"`dotnet tool restore` failed (exit {code}); the dotnet-interactive tool " +
            $"is pinned in .config/dotnet-tools.json:\n{output}");
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(repositoryRoot, ".config", "dotnet-tools.json")))!;
        var version = manifest["tools"]?[PackageId]?["version"]?.GetValue<string>()
            ?? throw new InvalidDataException($".config/dotnet-tools.json pins no {PackageId}.");
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var tools = Path.Combine(packages, PackageId, version, "tools");
        var entry = Directory.Exists(tools) ? Directory.GetFiles(tools, "Microsoft.DotNet.Interactive.App.dll",
            SearchOption.AllDirectories).FirstOrDefault() : null;
        return entry
            ?? throw new FileNotFoundException($"dotnet-interactive {version} was restored but its entry assembly is not under {tools}.");
    }
}
