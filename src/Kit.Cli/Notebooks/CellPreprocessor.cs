// Turns a Polyglot C# cell into plain C# script: package directives the runner already satisfies
// (#r "nuget: Kit", #i "nuget: <feed>") become blank lines — so line numbers in errors stay the cell's
// own — and anything the runner cannot honour fails with a message that says so.
using System.Text.RegularExpressions;

namespace Kit.Cli.Notebooks;

/// <summary>Rewrites the kernel-only lines of a cell.</summary>
public static class CellPreprocessor
{
    /// <summary>NuGet packages the runner carries (case-insensitive); #r "nuget: X" for these is satisfied.</summary>
    public static readonly IReadOnlySet<string> CarriedPackages = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Kit", "TorchSharp", "TorchSharp-cpu", "TorchSharp-cuda-linux", "libtorch-cpu-linux-x64", "SkiaSharp",
        "SkiaSharp.NativeAssets.Linux.NoDependencies", "Plotly.NET", "Plotly.NET.CSharp", "Plotly.NET.Interactive",
        "Microsoft.Data.Analysis", "FSharp.Core",
    };

    static readonly Regex NuGetReference = new(@"^\s*#r\s+""nuget:\s*([^,""\s]+)\s*(,[^""]*)?""\s*$", RegexOptions.Compiled);
    static readonly Regex SourceDirective = new(@"^\s*#i\s+""", RegexOptions.Compiled);
    static readonly Regex MagicCommand = new(@"^\s*#!(\S+)", RegexOptions.Compiled);

    /// <summary>
    /// Returns the cell's code with satisfied directives blanked. Throws NotebookCellException (with the
    /// 1-based line) for a package the runner does not carry or a magic command it cannot run.
    /// </summary>
    public static string Prepare(string source, int cellNumber)
    {
        var lines = source.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (NuGetReference.Match(line) is { Success: true } m)
            {
                if (!CarriedPackages.Contains(m.Groups[1].Value))
                    throw new NotebookCellException(cellNumber, i + 1, line.Trim(),
                        $"package '{m.Groups[1].Value}' is not one the headless runner carries ({string.Join(", ", CarriedPackages.Order())}); " +
                        "run this notebook in VS Code's Polyglot Notebooks, or add the package to the kit.");
                lines[i] = "";
            }
            else if (SourceDirective.IsMatch(line)) lines[i] = "";
            else if (MagicCommand.Match(line) is { Success: true } magic)
            {
                var name = magic.Groups[1].Value;
                if (name is "csharp" or "c#" or "C#") lines[i] = "";
                else throw new NotebookCellException(cellNumber, i + 1, line.Trim(),
                    $"magic command '#!{name}' is not supported by the headless runner (it runs C# cells only).");
            }
        }
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
