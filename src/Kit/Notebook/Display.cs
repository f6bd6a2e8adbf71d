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
    public static IDisplayHandle Show(object value) => (Sink ?? (IDisplaySink?)InteractiveKernelSink.TryCreate() ?? ConsoleSink.Instance).Display(value);

    /// <summary>Notebook-style alias of <see cref="Show"/> (for file-based apps exported from notebooks).</summary>
    public static IDisplayHandle display(object value) => Show(value);

    /// <summary>True when the code runs inside a .NET Interactive kernel (Polyglot Notebooks).</summary>
    public static bool InKernel => InteractiveKernelSink.TryCreate() is not null;
}

sealed class InteractiveKernelSink : IDisplaySink
{
    static InteractiveKernelSink? _cached;
    static bool _searched;
    readonly MethodInfo _display;

    InteractiveKernelSink(MethodInfo display) => _display = display;

    public static InteractiveKernelSink? TryCreate()
    {
        if (_searched) return _cached;
        var kernel = AppDomain.CurrentDomain.GetAssemblies()
            .FirstOrDefault(a => a.GetName().Name == "Microsoft.DotNet.Interactive")?.GetType("Microsoft.DotNet.Interactive.Kernel");
        var method = kernel?.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .FirstOrDefault(m => m.Name == "display" && m.GetParameters().Length == 2);
        _searched = true;
        return _cached = method is null ? null : new InteractiveKernelSink(method);
    }

    public IDisplayHandle Display(object value) => new Handle(_display.Invoke(null, new[] { value, Array.Empty<string>() }));

    sealed class Handle : IDisplayHandle
    {
        readonly object? _displayed;
        public Handle(object? displayed) => _displayed = displayed;
        public void Update(object value) => _displayed?.GetType().GetMethod("Update")?.Invoke(_displayed, new[] { value });
    }
}

sealed class ConsoleSink : IDisplaySink
{
    public static readonly ConsoleSink Instance = new();
    int _files;

    public IDisplayHandle Display(object value)
    {
        Write(value);
        return new Handle(this);
    }

    void Write(object value)
    {
        if (value is IRichView view)
        {
            Console.WriteLine(view.ToPlainText());
            Directory.CreateDirectory("kit-output");
            var stem = Path.Combine("kit-output", $"{Environment.ProcessId}-{++_files:D3}");
            var png = view.ToPng();
            var file = stem + (png is null ? ".html" : ".png");
            if (png is not null) File.WriteAllBytes(file, png);
            else File.WriteAllText(file, view.ToHtml());
            Console.WriteLine($"  (saved to {file})");
        }
        else Console.WriteLine(value);
    }

    sealed class Handle : IDisplayHandle
    {
        readonly ConsoleSink _sink;
        public Handle(ConsoleSink sink) => _sink = sink;
        public void Update(object value) { if (value is not ProgressView) _sink.Write(value); }
    }
}
