// The one rewrite the runner makes before a cell reaches the kernel. Everything else — `#r "nuget: …"` for any other
// package, `#i` sources, magic commands — goes to the kernel's own NuGet and directive handling, as in VS Code.
// Why this part stays: the runner is itself built on the kit, so the kit and the packages it carries are already
// loaded in this process. Letting the kernel restore "Kit" from the local feed would load a second copy, compiled
// from whatever was last packed, beside the current build; `kit reproduce` must run the code as it is now. So
// `#r "nuget: Kit"` (and the packages the kit carries) become blank lines — line numbers in errors stay the cell's
// own — and the runner references the loaded assemblies instead. The real kernel, through Jupyter or VS Code, does
// resolve them from the feed; CI runs every notebook that way too.
using System.Text.RegularExpressions;

namespace Kit.Cli.Notebooks;

/// <summary>Satisfies the package references the runner carries.</summary>
public static class CellPreprocessor
{
    /// <summary>NuGet packages the runner carries (case-insensitive); #r "nuget: X" for these is satisfied.</summary>
    public static readonly IReadOnlySet<string> CarriedPackages = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Kit", "TorchSharp", "TorchSharp-cpu", "TorchSharp-cuda-linux", "libtorch-cpu-linux-x64", "SkiaSharp",
        "SkiaSharp.NativeAssets.Linux.NoDependencies", "Plotly.NET", "Plotly.NET.CSharp",
        "Microsoft.Data.Analysis", "FSharp.Core", "Microsoft.ML.Tokenizers",
    };

    static readonly Regex NuGetReference = new(@"^\s*#r\s+""nuget:\s*([^,""\s]+)\s*(,[^""]*)?""\s*$", RegexOptions.Compiled);

    /// <summary>The package a line references with <c>#r "nuget: …"</c>, or null.</summary>
    public static string? ReferencedPackage(string line) => NuGetReference.Match(line) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>The cell's code with references to carried packages blanked (other lines untouched).</summary>
    public static string Prepare(string source)
    {
        var lines = source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
            if (ReferencedPackage(lines[i]) is string package && CarriedPackages.Contains(package)) lines[i] = "";
        return string.Join("\n", lines);
    }
}

/// <summary>A cell that failed: its number, the line, and why.</summary>
public sealed class NotebookCellException : Exception
{
    public NotebookCellException(int cell, int line, string lineText, string reason, Exception? inner = null)
        : base($"cell {cell}, line {line}: {reason}", inner)
    {
        Cell = cell; Line = line; LineText = lineText; Reason = reason;
    }

    /// <summary>1-based index of the cell in the notebook (markdown cells counted).</summary>
    public int Cell { get; }
    /// <summary>1-based line within the cell (0 when unknown).</summary>
    public int Line { get; }
    /// <summary>The text of that line.</summary>
    public string LineText { get; }
    /// <summary>What went wrong.</summary>
    public string Reason { get; }
}
