// Inside a .NET Interactive kernel, values of types the kit does not own (Plotly.NET's GenericChart) get
// the same offline HTML as the kit's ChartView. The kernel's Formatter is found by name and called by
// reflection, so the kit carries no dependency on it; outside a kernel this does nothing.
using System.Reflection;

namespace Kit.Notebook;

/// <summary>Registers HTML formatters for foreign types with the notebook kernel, when there is one.</summary>
public static class KernelFormatters
{
    static bool _done;

    /// <summary>Registers once; returns true when a kernel's Formatter accepted the registration.</summary>
    public static bool TryRegister()
    {
        if (_done) return false;
        var formatter = AppDomain.CurrentDomain.GetAssemblies()
            .FirstOrDefault(a => a.GetName().Name == "Microsoft.DotNet.Interactive.Formatting")?
            .GetType("Microsoft.DotNet.Interactive.Formatting.Formatter");
        var register = formatter?.GetMethods(BindingFlags.Public | BindingFlags.Static).FirstOrDefault(m =>
            m.Name == "Register" && !m.IsGenericMethod && m.GetParameters() is var p && p.Length == 3 &&
            p[0].ParameterType == typeof(Type) && p[1].ParameterType == typeof(Action<object, TextWriter>)
                && p[2].ParameterType == typeof(string));
        if (register is null) return false;
        _done = true;
        // Named, not typeof(GenericChart): resolving the type needs nothing of FSharp.Core, and a kernel whose
        // FSharp.Core is too old for Plotly.NET still registers (its users' own Plotly.NET calls fail there anyway).
        var chartType = Type.GetType("Plotly.NET.GenericChart, Plotly.NET");
        if (chartType is null) return false;
        Action<object, TextWriter> html = (value, writer)
            => writer.Write(PlotlyNetCharts.ToChartView((Plotly.NET.GenericChart)value).ToHtml());
        register.Invoke(null, new object[] { chartType, html, "text/html" });
        return true;
    }
}
