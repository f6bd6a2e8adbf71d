// One display() for every host: the kit's headless runner installs a sink; inside a .NET Interactive
// kernel the kit calls the kernel's own display (found by name, no package reference); elsewhere (a
// console or file-based app) text goes to the console and pictures and HTML to files under ./kit-output.
using System.Reflection;

namespace Kit.Notebook;

/// <summary>A displayed value that can be replaced in place (progress bars).</summary>
public interface IDisplayHandle
{
    void Update(object value);
}

/// <summary>Where displayed values go.</summary>
public interface IDisplaySink
{
    IDisplayHandle Display(object value);
}

/// <summary>Shows values in whatever host runs the code.</summary>
public static class Display
{
    /// <summary>The sink the headless runner (or a test) installs; null means "find the host".</summary>
    public static IDisplaySink? Sink { get; set; }

    /// <summary>Shows <paramref name="value"/> and returns a handle that can replace it.</summary>
    public static IDisplayHandle Show(object value)
        => (Sink ?? (IDisplaySink?)InteractiveKernelSink.TryCreate() ?? ConsoleSink.Instance).Display(value);

    /// <summary>Notebook-style alias of <see cref="Show"/> (for file-based apps exported from notebooks).</summary>
    public static IDisplayHandle display(object value) => Show(value);

    /// <summary>A file-name stem from a title: lower-case letters and digits joined by dashes, at most <paramref name="max"/>
    /// characters.</summary>
    public static string FileStem(string title, int max = 60)
    {
        var slug = System.Text.RegularExpressions.Regex.Replace(title.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');
        return slug.Length == 0 ? "output" : slug.Length > max ? slug[..max].TrimEnd('-') : slug;
    }

    /// <summary>True while a cell runs in a .NET Interactive kernel (Polyglot Notebooks, Jupyter, the kit's runner).</summary>
    public static bool InKernel => InteractiveKernelSink.TryCreate() is { Active: true };
}

// Displays through the kernel's current invocation context (KernelInvocationContextExtensions.Display), not through
// Kernel.display: the DisplayedValue that Kernel.display returns sends its updates under another display id than the
// one it displayed with (seen with dotnet-interactive 1.0.712001 over Jupyter: the update never reaches the output),
// while the context's own Display keeps the two matched, so progress bars update in place.
sealed class InteractiveKernelSink : IDisplaySink
{
    static InteractiveKernelSink? _cached;
    readonly PropertyInfo _current;
    readonly MethodInfo _display;

    InteractiveKernelSink(PropertyInfo current, MethodInfo display) { _current = current; _display = display; }

    /// <summary>The kernel's display, or null outside a kernel (looked up again until a kernel appears).</summary>
    public static InteractiveKernelSink? TryCreate()
    {
        if (_cached is not null) return _cached;
        var assembly = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "Microsoft.DotNet.Interactive");
        var context = assembly?.GetType("Microsoft.DotNet.Interactive.KernelInvocationContext");
        var current = context?.GetProperty("Current", BindingFlags.Public | BindingFlags.Static);
        var display = assembly?.GetType("Microsoft.DotNet.Interactive.KernelInvocationContextExtensions")?
            .GetMethods(BindingFlags.Public | BindingFlags.Static)
            .FirstOrDefault(m => m.Name == "Display" && m.GetParameters() is var p && p.Length == 3 && p[0].ParameterType == context
                && p[1].ParameterType == typeof(object));
        return _cached = current is null || display is null ? null : new InteractiveKernelSink(current, display);
    }

    /// <summary>True while a cell runs (there is an invocation context to display into).</summary>
    public bool Active => _current.GetValue(null) is not null;

    public IDisplayHandle Display(object value)
    {
        var context = _current.GetValue(null);
        if (context is null) return ConsoleSink.Instance.Display(value); // called outside any cell, e.g. from a timer
        return new Handle(_display.Invoke(null, new[] { context, value, Array.Empty<string>() }));
    }

    sealed class Handle : IDisplayHandle
    {
        readonly object? _displayed;
        public Handle(object? displayed) => _displayed = displayed;
        public void Update(object value) => _displayed?.GetType().GetMethod("Update", new[] { typeof(object) })?.Invoke(_displayed,
            new[] { value });
    }
}

// Outside any notebook (a console or file-based app): text to the console, and each picture, table or chart to a file
// under ./kit-output named after its title. Chart pages share one plotly.min.js written beside them, so every chart
// file opens offline, not only the first.
sealed class ConsoleSink : IDisplaySink
{
    public static readonly ConsoleSink Instance = new();
    const string Folder = "kit-output";
    readonly HashSet<string> _written = new(StringComparer.Ordinal);
    readonly object _gate = new();

    public IDisplayHandle Display(object value)
    {
        Write(value);
        return new Handle(this);
    }

    void Write(object value)
    {
        if (value is not IRichView view) { Console.WriteLine(value); return; }
        Console.WriteLine(view.ToPlainText());
        if (view is ProgressView) return;
        string file;
        lock (_gate)
        {
            Directory.CreateDirectory(Folder);
            var png = view.ToPng();
            file = Unique(Path.Combine(Folder, Kit.Notebook.Display.FileStem(view.Title ?? view.GetType().Name)),
                png is null ? ".html" : ".png");
            if (png is not null) Kit.Core.AtomicFile.WriteAllBytes(file, png);
            else if (view is ChartView chart)
            {
                var plotly = Path.Combine(Folder, "plotly.min.js");
                if (!File.Exists(plotly)) Kit.Core.AtomicFile.WriteAllText(plotly, ChartView.PlotlyJs);
                Kit.Core.AtomicFile.WriteAllText(file, chart.ToStandaloneHtml("plotly.min.js"));
            }
            else Kit.Core.AtomicFile.WriteAllText(file,
                $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>{view.ToHtml()}</body></html>");
        }
        Console.WriteLine($"  (saved to {file})");
    }

    // Two outputs with one title in a run get -2, -3, ...; a rerun of the app replaces its earlier files.
    string Unique(string stem, string extension)
    {
        var file = stem + extension;
        for (int n = 2; !_written.Add(file); n++) file = $"{stem}-{n}{extension}";
        return file;
    }

    sealed class Handle : IDisplayHandle
    {
        readonly ConsoleSink _sink;
        public Handle(ConsoleSink sink) => _sink = sink;
        public void Update(object value) { if (value is not ProgressView) _sink.Write(value); }
    }
}
