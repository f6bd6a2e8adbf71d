// Papermill-style parameters: `--param name=value` overrides a variable of the cell tagged "parameters" by a cell
// of C# assignments written right after it, each literal typed after the variable it sets (string, bool, numbers,
// enums), so the written cell reads — and re-runs in VS Code — as ordinary code. The runner takes the types from the
// kernel's variables after the cell ran; the exporter from the compiler, before anything runs, so both refuse the
// same mistakes (an unknown name, a value of the wrong type) with the same message.
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace Kit.Cli.Notebooks;

/// <summary>Checks parameter overrides against a parameters cell and writes them as C#.</summary>
public static class NotebookParameters
{
    /// <summary>The imports the .NET Interactive C# kernel starts with, so a cell that runs here runs there.</summary>
    public static readonly string[] KernelImports =
        { "System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq" };

    /// <summary>
    /// The cell of assignments for <paramref name="overrides"/>, typed after <paramref name="declared"/> (the parameters
    /// cell's variables). A name the cell does not declare, or a value that is not of the variable's type, is an
    /// ArgumentException naming both.
    /// </summary>
    public static string Assignments(IReadOnlyDictionary<string, Type> declared, IReadOnlyDictionary<string, string> overrides,
        string origin)
    {
        var lines = new List<string> { $"// Parameters injected by {origin}" };
        foreach (var (name, text) in overrides)
        {
            if (!declared.TryGetValue(name, out var type))
                throw new ArgumentException($"--param {name}={text}: the parameters cell declares no variable '{name}' (it declares: " +
                    $"{string.Join(", ", declared.Keys)}).");
            lines.Add($"{name} = {Literal(type, text, name)};");
        }
        return string.Join("\n", lines);
    }

    /// <summary>
    /// The variables <paramref name="parametersCell"/> declares and their types, found by compiling the cell (nothing
    /// runs) against <paramref name="references"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, Type> Declared(string parametersCell, IEnumerable<MetadataReference> references)
    {
        var options = ScriptOptions.Default.WithReferences(references).WithImports(KernelImports)
            .WithLanguageVersion(LanguageVersion.Preview);
        var compilation = CSharpScript.Create(parametersCell, options).GetCompilation();
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0)
            throw new ArgumentException($"the parameters cell does not compile: " +
                $"{string.Join("; ", errors.Take(3).Select(d => d.GetMessage(CultureInfo.InvariantCulture)))}");
        var result = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var field in compilation.ScriptClass!.GetMembers().OfType<IFieldSymbol>().Where(f => !f.IsImplicitlyDeclared))
            result[field.Name] = RuntimeType(field.Type) ?? typeof(object);
        return result;
    }

    static Type? RuntimeType(ITypeSymbol symbol) => symbol.SpecialType switch
    {
        SpecialType.System_String => typeof(string),
        SpecialType.System_Boolean => typeof(bool),
        SpecialType.System_Int32 => typeof(int),
        SpecialType.System_Int64 => typeof(long),
        SpecialType.System_Single => typeof(float),
        SpecialType.System_Double => typeof(double),
        _ => symbol.TypeKind == TypeKind.Enum
            ? AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name == symbol.ContainingAssembly.Name)
                .Select(a => a.GetType(Metadata(symbol))).FirstOrDefault(t => t is not null)
            : null,
    };

    static string Metadata(ITypeSymbol symbol) => symbol.ContainingType is { } outer
        ? $"{Metadata(outer)}+{symbol.MetadataName}"
        : $"{symbol.ContainingNamespace.ToDisplayString()}.{symbol.MetadataName}";

    static string Literal(Type type, string text, string name)
    {
        string Fail(string expected)
            => throw new ArgumentException($"--param {name}={text}: '{text}' is not {expected} (the variable is {type.Name}).");
        var inv = CultureInfo.InvariantCulture;
        if (type == typeof(string)) return SymbolDisplay.FormatLiteral(text, quote: true);
        if (type == typeof(bool)) return bool.TryParse(text, out var b) ? (b ? "true" : "false") : Fail("true or false");
        if (type == typeof(int)) return int.TryParse(text, NumberStyles.Integer, inv, out var i) ? i.ToString(inv) : Fail("an integer");
        if (type == typeof(long)) return long.TryParse(text, NumberStyles.Integer, inv, out var l) ? l.ToString(inv)
            + "L" : Fail("an integer");
        if (type == typeof(double)) return double.TryParse(text, NumberStyles.Float, inv, out var d) ? d.ToString("R", inv)
            + "d" : Fail("a number");
        if (type == typeof(float)) return float.TryParse(text, NumberStyles.Float, inv, out var f) ? f.ToString("R", inv)
            + "f" : Fail("a number");
        if (type.IsEnum)
            return Enum.TryParse(type, text, ignoreCase: true, out var e) && Enum.IsDefined(type, e!)
                ? $"{type.FullName!.Replace('+', '.')}.{e}" : Fail($"one of {string.Join(", ", Enum.GetNames(type))}");
        return Fail("settable from the command line (parameters may be string, bool, int, long, float, double or an enum)");
    }
}
