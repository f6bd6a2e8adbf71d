// Command-line parsing kept small and explicit: every mistake names the argument and what was expected.
using System.Globalization;
using Kit.Cli.Notebooks;
using Kit.Core;

namespace Kit.Cli;

/// <summary>The kit's commands.</summary>
public static class Commands
{
    const string Usage = """
        kit — unified visual tokenization research kit

        usage:
          kit notebook run <notebook.ipynb> [--scale quick|default|full] [--param name=value]... [--out <folder>]
          kit notebook export <notebook.ipynb> [--out <file.cs>] [--scale ...] [--param name=value]...
          kit reproduce [--scale quick|default|full] [--out <folder>] [--notebooks <folder>]
          kit info [--matmul]
          kit bench [tokenizer|lfq|memory|gpt|all] [--steps N] [--out <file.md>]

        notebook run      executes a Polyglot C# notebook headless and writes the executed copy (default folder: runs/notebooks)
        notebook export   writes the notebook as a .NET 10 file-based app (dotnet run file.cs)
        reproduce         runs every notebook in notebooks/ and writes runs/<timestamp>/ with report.md
        info              device, native-library status, data; --matmul also measures the float32 matmul peak
        bench             tokenizer and GPT training throughput vs the matmul peak, LFQ entropy cost, memory over long training, KV-cache generation
        """;

    public static async Task<int> Main(string[] args)
    {
        try
        {
            return args switch
            {
                ["notebook", "run", var path, .. var rest] => await RunNotebook(path, Options.Parse(rest, "--scale", "--param", "--out")),
                ["notebook", "export", var path, .. var rest] => Export(path, Options.Parse(rest, "--scale", "--param", "--out")),
                ["reproduce", .. var rest] => await Reproduce(Options.Parse(rest, "--scale", "--out", "--notebooks")),
                ["info", .. var rest] => Info(Options.Parse(rest, "--matmul")),
                ["bench", .. var rest] => BenchCommand(rest),
                [] or ["--help"] or ["-h"] or ["help"] => Help(0),
                _ => throw new UsageException($"unknown command '{string.Join(' ', args.Take(2))}'."),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"kit: {e.Message}\n");
            return Help(2);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or DirectoryNotFoundException)
        {
            Console.Error.WriteLine($"kit: {e.Message}");
            return 2;
        }
    }

    static int Help(int code)
    {
        (code == 0 ? Console.Out : Console.Error).WriteLine(Usage);
        return code;
    }

    static Dictionary<string, string> Parameters(Options o)
    {
        var result = new Dictionary<string, string>();
        foreach (var p in o.All("--param"))
        {
            int eq = p.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--param '{p}' must look like name=value.");
            result[p[..eq].Trim()] = p[(eq + 1)..];
        }
        if (o.One("--scale") is string scale) result["scale"] = RunScales.Parse(scale).ToString().ToLowerInvariant();
        return result;
    }

    static async Task<int> RunNotebook(string path, Options o)
    {
        var outDir = o.One("--out") ?? Path.Combine(KitPaths.RepositoryRoot ?? ".", "runs", "notebooks");
        Console.Error.WriteLine($"kit: running {path}");
        var result = await NotebookRunner.RunAsync(path, outDir, Parameters(o));
        Console.Error.WriteLine(result.Succeeded
            ? $"kit: {Path.GetFileName(path)} succeeded in {result.Seconds:0.0}s → {result.ExecutedPath}"
            : $"kit: {Path.GetFileName(path)} FAILED — {result.Failure!.Message}\n     executed copy (outputs up to the failure): {result.ExecutedPath}");
        return result.Succeeded ? 0 : 1;
    }

    static int Export(string path, Options o)
    {
        var doc = NotebookDocument.Load(path);
        var outFile = Path.GetFullPath(o.One("--out") ?? Path.ChangeExtension(path, ".cs"));
        var root = KitPaths.RepositoryRoot ?? throw new UsageException("export must run inside the kit's repository (it references src/Kit/Kit.csproj).");
        var project = Path.GetRelativePath(Path.GetDirectoryName(outFile)!, Path.Combine(root, "src", "Kit", "Kit.csproj"));
        AtomicFile.WriteAllText(outFile, NotebookExporter.Export(doc, project, Parameters(o)));
        Console.Error.WriteLine($"kit: wrote {outFile} (run it with: dotnet run {Path.GetRelativePath(Directory.GetCurrentDirectory(), outFile)})");
        return 0;
    }

    static async Task<int> Reproduce(Options o)
    {
        var scale = RunScales.Parse(o.One("--scale") ?? "default").ToString().ToLowerInvariant();
        var root = KitPaths.RepositoryRoot ?? ".";
        var notebooks = o.One("--notebooks") ?? Path.Combine(root, "notebooks");
        if (!Directory.Exists(notebooks)) throw new DirectoryNotFoundException($"--notebooks '{notebooks}' does not exist.");
        var runDir = o.One("--out") ?? Path.Combine(root, "runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        var results = new List<NotebookRunResult>();
        foreach (var path in Directory.GetFiles(notebooks, "*.ipynb").Order(StringComparer.Ordinal))
        {
            Console.Error.WriteLine($"kit: [{results.Count + 1}] {Path.GetFileName(path)} at scale {scale}");
            var result = await NotebookRunner.RunAsync(path, runDir, new Dictionary<string, string> { ["scale"] = scale });
            Console.Error.WriteLine(result.Succeeded ? $"kit:     ok in {result.Seconds:0}s" : $"kit:     FAILED — {result.Failure!.Message}");
            results.Add(result);
        }
        var report = ReportWriter.Write(runDir, scale, results, KitRuntime.Describe());
        Console.Error.WriteLine($"kit: {results.Count(r => r.Succeeded)}/{results.Count} notebooks succeeded; report: {report}");
        return results.All(r => r.Succeeded) ? 0 : 1;
    }

    static int BenchCommand(string[] rest)
    {
        var what = rest.Length > 0 && !rest[0].StartsWith("--", StringComparison.Ordinal) ? rest[0] : "all";
        var o = Options.Parse(rest.SkipWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList(), "--steps", "--out");
        int steps = 20;
        if (o.One("--steps") is string s && (!int.TryParse(s, out steps) || steps < 1)) throw new UsageException($"--steps '{s}' must be a positive integer.");
        return Bench.Run(what, steps, o.One("--out"));
    }

    static int Info(Options o)
    {
        Console.WriteLine(KitRuntime.Describe());
        if (o.Flag("--matmul")) Console.WriteLine($"float32 matmul 2048²: {KitRuntime.MeasureMatmulGflops():0} GFLOP/s");
        return 0;
    }
}

/// <summary>A mistake in the command line.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }
}

/// <summary>Parsed "--name value" options; flags have no value.</summary>
public sealed class Options
{
    static readonly HashSet<string> Flags = new() { "--matmul" };
    readonly List<(string Name, string Value)> _items = new();

    public static Options Parse(IReadOnlyList<string> args, params string[] allowed)
    {
        var o = new Options();
        for (int i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (!allowed.Contains(name))
                throw new UsageException($"'{name}' is not an option here (expected {string.Join(", ", allowed)}).");
            if (Flags.Contains(name)) { o._items.Add((name, "true")); continue; }
            if (i + 1 >= args.Count) throw new UsageException($"{name} needs a value.");
            o._items.Add((name, args[++i]));
        }
        return o;
    }

    public string? One(string name) => _items.LastOrDefault(x => x.Name == name).Value;
    public IEnumerable<string> All(string name) => _items.Where(x => x.Name == name).Select(x => x.Value);
    public bool Flag(string name) => _items.Any(x => x.Name == name);
}
