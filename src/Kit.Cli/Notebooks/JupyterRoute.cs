// A notebook run as a Jupyter user runs it: the real `dotnet-interactive` tool (pinned in .config/dotnet-tools.json,
// started by the path of its entry assembly, so the kernel finds it whatever folder the notebook is in) registered as a Jupyter kernel,
// executed by Debian's jupyter-nbconvert, the kit resolved from the local feed through
// notebooks/nuget.config. The kernelspec is written to a folder of this run's own (JUPYTER_PATH), never into the user's
// Jupyter folders, and it passes --http-local-only, so the kernel's HTTP server listens on loopback only. The scale is
// set through KIT_SCALE, which every notebook's parameters cell reads, so the notebook itself is not edited.
using System.Text.Json.Nodes;

namespace Kit.Cli.Notebooks;

/// <summary>How a notebook fared in the real kernel.</summary>
/// <param name="ExecutedPath">The copy nbconvert wrote (also when a cell failed: it runs with --allow-errors).</param>
/// <param name="Error">The first error output ("cell N: …"), or null when every cell ran.</param>
public sealed record JupyterRunResult(string Notebook, string ExecutedPath, string? Error, double Seconds);

/// <summary>Runs notebooks through Jupyter's nbconvert on the dotnet-interactive kernel.</summary>
public static class JupyterRoute
{
    /// <summary>The kernelspec name the kit registers for its runs.</summary>
    public const string KernelName = "kit-net-csharp";
    /// <summary>What to install when nbconvert is missing (Debian's packages, without recommends).</summary>
    public const string InstallCommand = "sudo apt-get install --no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client";

    /// <summary>
    /// Prepares a session: checks that nbconvert is installed, restores the pinned tool, packs the kit into the feed the
    /// notebooks read, and writes the kernelspec. Returns the folder to pass as JUPYTER_PATH.
    /// </summary>
    public static string Prepare(string repositoryRoot, string feed, TextWriter log)
    {
        if (Which("jupyter-nbconvert") is null)
            throw new InvalidOperationException($"Jupyter's nbconvert is not installed (no jupyter-nbconvert on PATH); install it " +
                $"with: {InstallCommand}");
        var tool = InteractiveTool.Restore(repositoryRoot);
        LocalFeed.Pack(repositoryRoot, feed, log);
        var jupyterPath = Directory.CreateTempSubdirectory("kit-jupyter-").FullName;
        var spec = Directory.CreateDirectory(Path.Combine(jupyterPath, "kernels", KernelName)).FullName;
        var kernel = new JsonObject
        {
            ["argv"] = new JsonArray("dotnet", tool, "jupyter", "--default-kernel", "csharp", "--http-local-only", "{connection_file}"),
            ["display_name"] = ".NET (C#) — the kit's pinned dotnet-interactive",
            ["language"] = "C#",
        };
        Kit.Core.AtomicFile.WriteAllText(Path.Combine(spec, "kernel.json"),
            kernel.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return jupyterPath;
    }

    /// <summary>Executes <paramref name="notebook"/> into <paramref name="outDirectory"/> at <paramref name="scale"/>.</summary>
    public static JupyterRunResult Run(string notebook, string outDirectory, string scale, string jupyterPath, TextWriter log)
    {
        var executed = NotebookRunner.OutputPaths(notebook, outDirectory).Executed;
        Directory.CreateDirectory(outDirectory);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var environment = new Dictionary<string, string> { ["JUPYTER_PATH"] = jupyterPath, ["KIT_SCALE"] = scale };
        var (code, output) = LocalFeed.Run("jupyter-nbconvert", Path.GetDirectoryName(Path.GetFullPath(notebook))!, environment,
            "--to", "notebook", "--execute", "--allow-errors", $"--ExecutePreprocessor.kernel_name={KernelName}",
            "--ExecutePreprocessor.timeout=3600", "--output-dir", Path.GetFullPath(outDirectory), Path.GetFullPath(notebook));
        if (code != 0 || !File.Exists(executed))
            return new JupyterRunResult(notebook, executed, $"nbconvert failed (exit {code}): {Tail(output)}", clock.Elapsed.TotalSeconds);
        log.WriteLine($"  {Path.GetFileName(notebook)} ran in the kernel in {clock.Elapsed.TotalSeconds:0}s");
        return new JupyterRunResult(notebook, executed, FirstError(executed), clock.Elapsed.TotalSeconds);
    }

    /// <summary>"cell N: ename: evalue" for the first error output of an executed notebook, or null.</summary>
    public static string? FirstError(string executedNotebook)
    {
        var cells = JsonNode.Parse(File.ReadAllText(executedNotebook))!["cells"]!.AsArray();
        for (int i = 0; i < cells.Count; i++)
            foreach (var output in cells[i]!["outputs"]?.AsArray() ?? new JsonArray())
                if (output?["output_type"]?.GetValue<string>() == "error")
                    return $"cell {i + 1}: {output["ename"]?.GetValue<string>()}: {output["evalue"]?.GetValue<string>()?.Split('\n')[0]}";
        return null;
    }

    static string Tail(string text) => string.Join("\n", text.TrimEnd().Split('\n').TakeLast(15));

    static string? Which(string program) => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':',
        StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);
}
