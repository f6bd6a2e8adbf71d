// Inside a .NET Interactive kernel, values of types the kit does not own (Plotly.NET's GenericChart) get
// the same offline HTML as the kit's ChartView. The kernel's Formatter is found by name and called by
// reflection, so the kit carries no dependency on it; outside a kernel this does nothing.
using System.Reflection;
using Plotly.NET;

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
            p[0].ParameterType == typeof(Type) && p[1].ParameterType == typeof(Action<object, TextWriter>) && p[2].ParameterType == typeof(string));
        if (register is null) return false;
        _done = true;
        Action<object, TextWriter> html = (value, writer) => writer.Write(new ChartView((GenericChart)value, "chart").ToHtml());
        register.Invoke(null, new object[] { typeof(GenericChart), html, "text/html" });
        return true;
    }
}
