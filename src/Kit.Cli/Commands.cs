// Command-line parsing kept small and explicit: every command answers --help with its own usage, and every
// mistake names the argument and what was expected.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Kit.Cli.Notebooks;
using Kit.Core;
using Kit.Training;

namespace Kit.Cli;

/// <summary>The kit's commands.</summary>
public static class Commands
{
    const string Usage = """
        kit — unified visual tokenization research kit

        usage:
          kit reproduce [--scale quick|default|full] [--out <folder>] [--notebooks <folder>]
          kit notebook run <notebook.ipynb> [--scale quick|default|full] [--param name=value]... [--out <folder>]
          kit notebook jupyter <notebook.ipynb|folder> [--scale ...] [--out <folder>] [--compare-with <folder>]
          kit notebook compare <executed.ipynb> <executed.ipynb>
          kit notebook export <notebook.ipynb> [--out <file.cs>] [--scale ...] [--param name=value]...
          kit pack [--out <feed folder>]
          kit info [--matmul]
          kit bench [tokenizer|lfq|memory|gpt|dynamic|all] [--steps N] [--out <file.md>]

        reproduce         runs every notebook in notebooks/ headless and writes runs/<timestamp>/ with report.md
        notebook run      executes one notebook headless on the .NET Interactive C# kernel and writes the executed copy
        notebook jupyter  executes notebooks in the real kernel through Jupyter (dotnet-interactive + jupyter-nbconvert)
        notebook compare  checks that two executed copies of a notebook show the same tables
        notebook export   writes a notebook as a .NET 10 file-based app (dotnet run file.cs)
        pack              packs the library into the local feed .kit-feed/ that notebooks in VS Code and Jupyter read
        info              device, allocator, native-library fix, cache and data folders; --matmul also measures the matmul peak
        bench             speed and memory targets, measured on this machine

        `kit <command> --help` describes a command's options and defaults.
        """;

    static readonly Dictionary<string, string> CommandUsage = new()
    {
        ["reproduce"] = """
            usage: kit reproduce [--scale quick|default|full] [--out <folder>] [--notebooks <folder>]

            Runs every notebook (*.ipynb) of a folder headless, in name order, and writes the executed copies, report.md
            (every table, figure and claim), tables/*.csv and figures/ into one run folder. The report is rewritten as each
            notebook finishes, so an interrupted run keeps what finished and says where it stopped.

            Each notebook runs in a process of its own (`kit notebook run ... --report`), so one that ends the process — a native
            abort — is reported with the cell it was in, and the notebooks after it still run.

              --scale      quick (CI, minutes), default (a CPU, the README's main job) or full (a GPU). Default: KIT_SCALE, else default
              --out        the run folder (created when missing; relative to the directory you run kit from).
                           Default: runs/<yyyyMMdd-HHmmss>
              --notebooks  the folder of notebooks. Default: notebooks/ of the repository
            """,
        ["notebook run"] = """
            usage: kit notebook run <notebook.ipynb> [--scale quick|default|full] [--param name=value]... [--out <folder>]
                                    [--report <folder>]

            Executes the notebook headless on the .NET Interactive C# kernel (in process) and writes the executed copy into
            the out folder — never over the notebook itself, even through a link. A failing cell stops the run, naming the
            cell, its line and the exception; that run's copy is written as <name>.failed.ipynb and the last good copy is kept.
            Before each cell the copy so far is written as <name>.running.ipynb, so a process that dies in a cell leaves
            every cell before it.

              --scale   sets the parameters cell's `scale`. Default: the notebook's own value (which reads KIT_SCALE)
              --param   sets another variable of the cell tagged "parameters" (repeatable), typed after the variable
              --out     the folder for the executed copy (created when missing). Default: runs/notebooks
              --report  also writes the notebook's tables, claims and figures into this run folder, as `kit reproduce` does
            """,
        ["notebook jupyter"] = """
            usage: kit notebook jupyter <notebook.ipynb|folder> [--scale quick|default|full] [--out <folder>] [--compare-with <folder>]

            Executes notebooks as a Jupyter user would: the pinned dotnet-interactive tool (dotnet tool restore) registered
            as a kernel for this run only, with its HTTP server on loopback, run by jupyter-nbconvert; the kit comes from the
            local feed, packed first. Needs: sudo apt-get install --no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client

              --scale         sets KIT_SCALE, which every notebook's parameters cell reads. Default: KIT_SCALE, else quick
              --out           the folder for the executed copies. Default: runs/jupyter
              --compare-with  a folder of executed copies (a headless run at the same scale and seed): fails when a
                              notebook's tables differ from its copy there (measured columns are skipped)
            """,
        ["notebook compare"] = """
            usage: kit notebook compare <executed.ipynb> <executed.ipynb>

            Reads every table the kit wrote in two executed copies of a notebook and lists each cell that differs; columns
            marked as measured (times, speeds) are skipped. Exits 1 when they differ.
            """,
        ["notebook export"] = """
            usage: kit notebook export <notebook.ipynb> [--out <file.cs>] [--scale quick|default|full] [--param name=value]...

            Writes the notebook as a .NET 10 file-based app: markdown becomes comments, parameters are baked in after the
            parameters cell (checked against it, as `notebook run` checks them). Run it with: dotnet run <file.cs>

              --out    the app's file. Default: the notebook's name with .cs, beside it
              --scale  sets `scale`; --param sets another variable of the parameters cell
            """,
        ["pack"] = """
            usage: kit pack [--out <feed folder>]

            Packs src/Kit into a local NuGet feed as a new prerelease (0.1.0-dev.<time>), so a notebook kernel never serves a
            stale build. notebooks/nuget.config names ../.kit-feed, which the first cell's `#r "nuget: Kit, *-*"` reads.

              --out  the feed folder. Default: .kit-feed at the repository root
            """,
        ["info"] = """
            usage: kit info [--matmul]

            Prints the kit and TorchSharp versions, the device and threads, the memory allocator in use, the native-library
            fix, the cache folder and the optional datasets (Fashion-MNIST, WordNet).

              --matmul  also measures the float32 matmul peak (the best of five product shapes, about 5 s)
                        beside the physical bound (cores × clock × FLOP per cycle)
            """,
        ["bench"] = """
            usage: kit bench [tokenizer|lfq|memory|gpt|dynamic|all] [--steps N] [--out <file.md>]

            Measures the kit's speed and memory targets on this machine; training speed is reported as a share of the
            float32 matmul peak measured in the same run. Default benchmark: all.

              tokenizer  tokenizer training images/s and GFLOP/s per quantizer
              lfq        the LFQ entropy terms per 4,096 tokens, exact and grouped, 2^10–2^18
              memory     the working set over long training (it must stay flat)
              gpt        GPT training MFU and generation with / without the KV cache
              dynamic    LaVIT's dynamic tokenizer training images/s and GFLOP/s; the unified LLM on dynamic vs fixed sequences
              --steps    timed steps per case. Default: 20
              --out      also writes the tables as Markdown to this file
            """,
    };

    public static async Task<int> Main(string[] args)
    {
        try
        {
            // Before any work: a bad KIT_* value or an unknown KIT_ name is an error, and relative KIT_CACHE / KIT_DATA are
            // fixed to the directory the command was run from (the runner works inside the notebook's folder).
            if (!IsHelp(args))
            {
                KitEnvironment.Check();
                KitEnvironment.ResolveFolders();
            }
            return args switch
            {
                [] or ["--help"] or ["-h"] or ["help"] => Help(Usage, 0),
                ["help", .. var topic] => Help(Topic(topic), 0),
                [.., "--help" or "-h"] => Help(Topic(args.TakeWhile(a => a is not ("--help" or "-h")).ToArray()), 0),
                ["notebook"] => throw new UsageException("notebook needs a subcommand: run, jupyter, compare or export.", "notebook run"),
                ["notebook", "run"] => throw new UsageException("notebook run needs a notebook path.", "notebook run"),
                ["notebook", "run", var path, .. var rest] => await RunNotebook(path, Options.Parse(rest, "notebook run", "--scale",
                    "--param", "--out", "--report")),
                ["notebook", "jupyter"] => throw new UsageException("notebook jupyter needs a notebook path or a folder of notebooks.",
                    "notebook jupyter"),
                ["notebook", "jupyter", var path, .. var rest] => Jupyter(path, Options.Parse(rest, "notebook jupyter", "--scale", "--out",
                    "--compare-with")),
                ["notebook", "compare", var a, var b] => Compare(a, b),
                ["notebook", "compare", ..] => throw new UsageException("notebook compare needs two executed notebooks.",
                    "notebook compare"),
                ["notebook", "export"] => throw new UsageException("notebook export needs a notebook path.", "notebook export"),
                ["notebook", "export", var path, .. var rest] => Export(path, Options.Parse(rest, "notebook export", "--scale", "--param",
                    "--out")),
                ["notebook", var sub, ..]
                    => throw new UsageException($"'notebook {sub}' is not a notebook command (expected run, jupyter, compare or export).",
                        "notebook run"),
                ["reproduce", .. var rest] => await Reproduce(Options.Parse(rest, "reproduce", "--scale", "--out", "--notebooks")),
                ["pack", .. var rest] => Pack(Options.Parse(rest, "pack", "--out")),
                ["info", .. var rest] => Info(Options.Parse(rest, "info", "--matmul")),
                ["bench", .. var rest] => BenchCommand(rest),
                _ => throw new UsageException($"unknown command '{string.Join(' ', args.Take(2))}'."),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"kit: {e.Message}\n");
            return Help(e.Command is null ? Usage : CommandUsage[e.Command], 2);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or DirectoryNotFoundException
            or InvalidOperationException)
        {
            foreach (var line in Clean(e).Split('\n')) Console.Error.WriteLine($"kit: {line}");
            return 2;
        }
    }

    static bool IsHelp(string[] args) => args is [] || args.Any(a => a is "--help" or "-h") || args[0] == "help";

    /// <summary>An exception's message without .NET's " (Parameter 'x')" suffix, which names code, not the user's input.</summary>
    internal static string Clean(Exception e) =>
        e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;

    static string Topic(string[] words)
    {
        var key = words.Length >= 2 && CommandUsage.ContainsKey($"{words[0]} {words[1]}") ? $"{words[0]} {words[1]}"
            : words.Length >= 1 && words[0] == "notebook" ? null
            : words.Length >= 1 && CommandUsage.ContainsKey(words[0]) ? words[0] : null;
        if (key is not null) return CommandUsage[key];
        if (words is ["notebook", ..]) return string.Join("\n", CommandUsage.Where(kv => kv.Key.StartsWith("notebook ",
            StringComparison.Ordinal)).Select(kv => kv.Value));
        return Usage;
    }

    static int Help(string text, int code)
    {
        (code == 0 ? Console.Out : Console.Error).WriteLine(text);
        return code;
    }

    // The runner's log goes to the process's own standard error: the kernel captures Console.Error while a cell runs.
    static readonly TextWriter Log = new StreamWriter(Console.OpenStandardError()) { AutoFlush = true };

    static string Root
        => KitPaths.RepositoryRoot
            ?? throw new UsageException("this command runs inside the kit's repository (the folder holding Kit.sln).");

    static Dictionary<string, string> Parameters(Options o)
    {
        var result = new Dictionary<string, string>();
        foreach (var p in o.All("--param"))
        {
            int eq = p.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--param '{p}' must look like name=value.", o.Command);
            result[p[..eq].Trim()] = p[(eq + 1)..];
        }
        if (Scale(o) is string scale && o.One("--scale") is not null) result["scale"] = scale;
        return result;
    }

    static string ScaleName(string scale) => RunScales.Parse(scale).ToString().ToLowerInvariant();

    /// <summary>The scale --scale and KIT_SCALE ask for (null when neither does); the two disagreeing is an error.</summary>
    static string? Scale(Options o)
    {
        var flag = o.One("--scale") is string s ? ScaleName(s) : null;
        var environment = Environment.GetEnvironmentVariable("KIT_SCALE") is { } e && !string.IsNullOrWhiteSpace(e) ? ScaleName(e) : null;
        if (flag is not null && environment is not null && flag != environment)
            throw new UsageException($"--scale {flag} and KIT_SCALE={environment} disagree; give one of them, or both the same.",
                o.Command);
        return flag ?? environment;
    }

    /// <summary>An --out folder as an absolute path (relative to where kit was run), checked writable before any work: created when
    /// missing, not a file, writable, with room.</summary>
    static string OutFolder(string? given, string fallback) =>
        KitEnvironment.EnsureWritableFolder(Path.GetFullPath(given ?? fallback), $"--out '{given ?? fallback}'");

    static async Task<int> RunNotebook(string path, Options o)
    {
        var parameters = Parameters(o);
        var notebook = Path.GetFullPath(path);
        NotebookFile.Load(notebook); // a file that is no notebook is refused before anything is written
        var defaultOut = Path.Combine(KitPaths.RepositoryRoot ?? ".", "runs", "notebooks");
        // the source is never overwritten, not even the folder is made
        NotebookRunner.OutputPaths(notebook, Path.GetFullPath(o.One("--out") ?? defaultOut));
        var outDir = OutFolder(o.One("--out"), defaultOut);
        var report = o.One("--report") is string r ? KitEnvironment.EnsureWritableFolder(Path.GetFullPath(r), $"--report '{r}'") : null;
        ArtifactCache.EnsureWritable();
        Console.Error.WriteLine($"kit: running {path}");
        var result = await NotebookRunner.RunAsync(notebook, outDir, parameters, Log);
        if (report is not null) ReportWriter.WritePart(report, result);
        Console.Error.WriteLine(result.Succeeded
            ? $"kit: {Path.GetFileName(path)} succeeded in {result.Seconds:0.0}s → {result.ExecutedPath}"
            : $"kit: {Path.GetFileName(path)} FAILED — {result.Failure!.Message}\n     this run's copy (outputs up to the failure): " +
                $"{result.ExecutedPath}" +
              (result.KeptCopy is null ? "" : $"\n     the last good executed copy is kept: {result.KeptCopy}"));
        if (result.SavedElsewhere is not null)
            Console.Error.WriteLine($"kit: {result.SavedElsewhere}; the executed copy was saved at {result.ExecutedPath} instead");
        return result.Succeeded && result.SavedElsewhere is null ? 0 : 1;
    }

    static int Jupyter(string path, Options o)
    {
        var scale = Scale(o) ?? "quick";
        var notebooks = NotebooksAt(Path.GetFullPath(path), "notebook jupyter");
        var outDir = OutFolder(o.One("--out"), Path.Combine(Root, "runs", "jupyter"));
        ArtifactCache.EnsureWritable();
        var compareWith = o.One("--compare-with") is string c ? Path.GetFullPath(c) : null;
        if (compareWith is not null
            && !Directory.Exists(compareWith)) throw new DirectoryNotFoundException($"--compare-with '{compareWith}' does not exist.");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var jupyterPath = JupyterRoute.Prepare(Root, LocalFeed.DefaultFolder(Root), Log);
        int failed = 0;
        try
        {
            foreach (var notebook in notebooks)
            {
                Log.WriteLine($"kit: {Path.GetFileName(notebook)} in the real kernel at scale {scale}");
                var result = JupyterRoute.Run(notebook, outDir, scale, jupyterPath, Log);
                if (result.Error is not null) { failed++; Log.WriteLine($"kit:     FAILED — {result.Error}"); continue; }
                if (compareWith is null) continue;
                var headless = Path.Combine(compareWith, Path.GetFileName(notebook));
                if (!File.Exists(headless)) { failed++; Log.WriteLine($"kit:     no executed copy {headless} to compare with"); continue; }
                var differences = NotebookComparer.Differences(headless, result.ExecutedPath);
                if (differences.Count == 0) Log.WriteLine($"kit:     its {NotebookComparer.Tables(headless).Count} tables equal the " +
                    $"headless run's");
                else { failed++; Log.WriteLine($"kit:     tables differ from the headless run's:\n" + string.Join("\n",
                    differences.Take(20).Select(d => "       " + d))); }
            }
        }
        finally { Directory.Delete(jupyterPath, recursive: true); }
        Log.WriteLine($"kit: {notebooks.Count - failed}/{notebooks.Count} notebooks ran in the real " +
            $"kernel{(compareWith is null ? "" : " and matched")} in {clock.Elapsed.TotalSeconds:0}s → {outDir}");
        return failed == 0 ? 0 : 1;
    }

    static int Compare(string a, string b)
    {
        // each must be a notebook: a missing file, a folder or other JSON is named in one line
        foreach (var p in new[] { a, b }) NotebookFile.Load(p);
        var differences = NotebookComparer.Differences(a, b);
        Console.WriteLine(differences.Count == 0 ? $"the {NotebookComparer.Tables(a).Count} tables agree" : string.Join("\n", differences));
        return differences.Count == 0 ? 0 : 1;
    }

    static int Export(string path, Options o)
    {
        var doc = NotebookFile.Load(path);
        var outFile = Path.GetFullPath(o.One("--out") ?? Path.ChangeExtension(path, ".cs"));
        var project = Path.GetRelativePath(Path.GetDirectoryName(outFile)!, Path.Combine(Root, "src", "Kit", "Kit.csproj"));
        var source = NotebookExporter.Export(doc, path, project, Parameters(o)); // checks the parameters before anything is written
        AtomicFile.WriteAllText(outFile, source);
        Console.Error.WriteLine($"kit: wrote {outFile} (run it with: dotnet run " +
            $"{Path.GetRelativePath(Directory.GetCurrentDirectory(), outFile)})");
        return 0;
    }

    static int Pack(Options o)
    {
        var feed = Path.GetFullPath(o.One("--out") ?? LocalFeed.DefaultFolder(Root));
        LocalFeed.Pack(Root, feed, Log);
        Log.WriteLine(PackMessage(feed, Root));
        return 0;
    }

    /// <summary>What a pack into <paramref name="feed"/> means for the notebooks: found, unless it went to another folder than
    /// notebooks/nuget.config names.</summary>
    internal static string PackMessage(string feed, string root)
    {
        var named = LocalFeed.DefaultFolder(root);
        return KitPaths.RealPath(feed) == KitPaths.RealPath(named)
            ? "kit: notebooks in VS Code and Jupyter now find it (notebooks/nuget.config names the feed)"
            : $"kit: notebooks/nuget.config names {named}, not {feed}: the notebooks' first cell will not find this pack " +
              "until a NuGet source names that folder (or run kit pack without --out).";
    }

    /// <summary>The notebooks a path names: the file itself, or every *.ipynb of a folder in name order (none is an error).</summary>
    static IReadOnlyList<string> NotebooksAt(string path, string command)
    {
        if (File.Exists(path)) return new[] { Path.GetFullPath(path) };
        if (!Directory.Exists(path)) throw new FileNotFoundException($"'{path}' is neither a notebook nor a folder of notebooks.", path);
        var found = Directory.GetFiles(path, "*.ipynb").Order(StringComparer.Ordinal).ToList();
        if (found.Count == 0) throw new UsageException($"'{path}' holds no notebooks (*.ipynb); nothing to run.", command);
        return found;
    }

    static async Task<int> Reproduce(Options o)
    {
        var scale = Scale(o) ?? "default";
        var root = KitPaths.RepositoryRoot ?? ".";
        var given = o.One("--notebooks");
        var folder = Path.GetFullPath(given ?? Path.Combine(root, "notebooks"));
        if (File.Exists(folder))
            throw new UsageException($"--notebooks '{given}' is a file; expected a folder of notebooks (to run one notebook: kit " +
                $"notebook run {given}).", "reproduce");
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--notebooks '{given ?? folder}' does not exist.");
        var notebooks = NotebooksAt(folder, "reproduce");
        var defaultOut = Path.Combine(root, "runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        foreach (var n in notebooks) NotebookRunner.OutputPaths(n, Path.GetFullPath(o.One("--out") ?? defaultOut));
        var runDir = OutFolder(o.One("--out"), defaultOut);
        ArtifactCache.EnsureWritable();
        using var reportLock = RunLock.Acquire(Path.Combine(runDir, "report.md"), "--out");
        // an earlier run's parts are not this run's
        foreach (var n in notebooks) { var stale = ReportWriter.PartPath(runDir, n); if (File.Exists(stale)) File.Delete(stale); }
        var report = new ReportWriter(runDir, scale, KitRuntime.Describe(), ReportWriter.OptionalData());
        var parts = new List<ReportPart>();
        string? running = null;
        Process? child = null;
        bool interrupted = false;
        // Ctrl-C (or a kill) mid-run: the notebook's process is stopped and the report is rewritten to say which notebook
        // stopped; the finished ones stay.
        void Interrupted(PosixSignalContext context)
        {
            lock (parts)
            {
                interrupted = true;
                try { child?.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                report.Write(parts, interruptedDuring: running);
            }
            Log.WriteLine($"\nkit: interrupted during {running ?? "start-up"}; the report of the {parts.Count} finished notebook(s): " +
                $"{report.Path}");
            context.Cancel = true;
            Environment.Exit(130); // 128 + SIGINT, as a shell reports it; the notebook's process is already stopped
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupted);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupted);
        foreach (var path in notebooks)
        {
            running = Path.GetFileName(path);
            Log.WriteLine($"kit: [{parts.Count + 1}/{notebooks.Count}] {running} at scale {scale}");
            var part = await RunInItsOwnProcess(path, runDir, scale, p => { lock (parts) child = p; });
            lock (parts)
            {
                if (interrupted) break;
                parts.Add(part);
                report.Write(parts, interruptedDuring: null);
            }
            Log.WriteLine(part.Succeeded ? $"kit:     ok in {part.Seconds:0}s" : $"kit:     FAILED — {part.Failure}");
        }
        running = null;
        Log.WriteLine($"kit: {parts.Count(r => r.Succeeded)}/{parts.Count} notebooks succeeded; report: {report.Path}");
        return parts.All(r => r.Succeeded) ? 0 : 1;
    }

    // `kit notebook run <notebook> --report <run>` in a child process: the notebook's part of the report, or — when the
    // process ends without writing one (a native abort) — a failed part naming the exit and the cell it was in.
    static async Task<ReportPart> RunInItsOwnProcess(string notebook, string runDir, string scale, Action<Process?> track)
    {
        var start = SelfStart("notebook", "run", notebook, "--scale", scale, "--out", runDir, "--report", runDir);
        start.RedirectStandardError = true;
        start.RedirectStandardOutput = true;
        var tail = new Queue<string>();
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start a process for {notebook}.");
        track(process);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            Log.WriteLine(e.Data);
            lock (tail) { tail.Enqueue(e.Data); if (tail.Count > 40) tail.Dequeue(); }
        };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.WriteLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        await process.WaitForExitAsync();
        track(null);
        if (ReportWriter.ReadPart(runDir, notebook) is { } part) return part;
        string[] lines;
        lock (tail) lines = tail.ToArray();
        return NotebookAbort.Record(notebook, runDir, process.ExitCode, lines, clock.Elapsed.TotalSeconds);
    }

    /// <summary>This program with <paramref name="args"/> (through the dotnet host when it runs as a .dll).</summary>
    static ProcessStartInfo SelfStart(params string[] args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(Commands).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }

    static int BenchCommand(string[] rest)
    {
        var what = rest.Length > 0 && !rest[0].StartsWith("--", StringComparison.Ordinal) ? rest[0] : "all";
        var o = Options.Parse(rest.SkipWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList(), "bench", "--steps", "--out");
        int steps = 20;
        if (o.One("--steps") is string s && (!int.TryParse(s,
            out steps) || steps < 1)) throw new UsageException($"--steps '{s}' must be a positive integer.", "bench");
        return Bench.Run(what, steps, o.One("--out"));
    }

    static int Info(Options o)
    {
        Console.WriteLine(KitRuntime.Describe());
        Console.WriteLine(Kit.Data.OptionalData.Describe());
        if (o.Flag("--matmul")) Console.WriteLine(KitRuntime.DescribePeaks(KitRuntime.MeasureMatmulPeak()));
        return 0;
    }
}

/// <summary>A mistake in the command line; <see cref="Command"/> names the command whose usage to print.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message, string? command = null) : base(message) => Command = command;

    /// <summary>The command (a key of the per-command usages), or null for the general usage.</summary>
    public string? Command { get; }
}

/// <summary>Parsed "--name value" options; flags have no value.</summary>
public sealed class Options
{
    static readonly HashSet<string> Flags = new() { "--matmul" };
    readonly List<(string Name, string Value)> _items = new();

    Options(string command) => Command = command;

    /// <summary>The command the options belong to (for its usage in errors).</summary>
    public string Command { get; }

    public static Options Parse(IReadOnlyList<string> args, string command, params string[] allowed)
    {
        var o = new Options(command);
        for (int i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (!allowed.Contains(name))
                throw new UsageException($"'{name}' is not an option of `kit {command}` (expected {string.Join(", ", allowed)}).", command);
            if (Flags.Contains(name)) { o._items.Add((name, "true")); continue; }
            if (i + 1 >= args.Count) throw new UsageException($"{name} needs a value.", command);
            o._items.Add((name, args[++i]));
        }
        return o;
    }

    public string? One(string name) => _items.LastOrDefault(x => x.Name == name).Value;
    public IEnumerable<string> All(string name) => _items.Where(x => x.Name == name).Select(x => x.Value);
    public bool Flag(string name) => _items.Any(x => x.Name == name);
}
