// The `kit` command built beside the tests (the test project references Kit.Cli), run as a process the way a shell runs
// it: exit code, standard output and error, optionally in another working directory and with other environment variables.
using System.Diagnostics;

namespace Kit.Tests;

static class KitProcess
{
    public sealed record Outcome(int Exit, string Out, string Err);

    /// <summary>The start info of `kit args…`, started by the dotnet host running the tests.</summary>
    public static ProcessStartInfo Start(IEnumerable<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h
            : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Kit.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
            if (v is null) start.Environment.Remove(k); else start.Environment[k] = v;
        return start;
    }

    /// <summary>Runs `kit args…` to the end (at most <paramref name="minutes"/>).</summary>
    public static Outcome Run(IEnumerable<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null, double minutes = 2)
    {
        using var p = Process.Start(Start(args, workingDirectory, environment))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(minutes))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"kit {string.Join(' ', args)} did not finish"); }
        return new Outcome(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static Outcome Run(params string[] args) => Run((IEnumerable<string>)args);
}
