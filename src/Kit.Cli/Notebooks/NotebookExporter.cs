// Exports a notebook as a .NET 10 file-based app (`dotnet run file.cs`), the successor Microsoft
// recommends now that Polyglot Notebooks are deprecated. Markdown becomes comments; usings are hoisted;
// type declarations move to the end (top-level statements must come first); a cell's trailing expression
// becomes display(...), as the kernel would show it.
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kit.Cli.Notebooks;

/// <summary>Writes a notebook's C# cells as one file-based app.</summary>
public static class NotebookExporter
{
    /// <summary>
    /// The app's source. <paramref name="kitProject"/> is the path of src/Kit/Kit.csproj relative to where the
    /// file will live; <paramref name="parameters"/> are baked in after the parameters cell, as `kit notebook run` would.
    /// </summary>
    public static string Export(NotebookDocument doc, string kitProject, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var usings = new List<string>();
        var body = new StringBuilder();
        var types = new StringBuilder();
        for (int i = 0; i < doc.Cells.Count; i++)
        {
            var cell = doc.Cells[i];
            if (cell.CellType == "markdown")
            {
                foreach (var line in cell.Source.Replace("\r\n", "\n").TrimEnd('\n').Split('\n')) body.Append("// ").Append(line).Append('\n');
                body.Append('\n');
                continue;
            }
            if (cell.CellType != "code") continue;
            var code = CellPreprocessor.Prepare(cell.Source, i + 1);
            var root = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Preview, kind: SourceCodeKind.Script)).GetRoot();
            usings.AddRange(root.Usings.Select(u => u.ToString().Trim()));
            body.Append($"// ── cell {i + 1}{(cell.Tags.Count > 0 ? $" [{string.Join(", ", cell.Tags)}]" : "")}\n");
            var members = root.Members.ToList();
            for (int m = 0; m < members.Count; m++)
            {
                var member = members[m];
                if (member is BaseTypeDeclarationSyntax or DelegateDeclarationSyntax) { types.Append(member.ToFullString().Trim()).Append("\n\n"); continue; }
                if (m == members.Count - 1 && member is GlobalStatementSyntax { Statement: ExpressionStatementSyntax { SemicolonToken.IsMissing: true } last })
                {
                    body.Append($"display({last.Expression.ToString().Trim()});\n");
                    continue;
                }
                body.Append(member.ToFullString().Trim('\n')).Append('\n');
            }
            body.Append('\n');
            if (cell.Tags.Contains("parameters") && parameters is { Count: > 0 })
            {
                body.Append("// parameters set by `kit notebook export`\n");
                foreach (var (name, value) in parameters) body.Append($"{name} = {ExportLiteral(value)};\n");
                body.Append('\n');
            }
        }
        var header = new StringBuilder();
        header.Append("#!/usr/bin/env -S dotnet run\n");
        header.Append($"#:project {kitProject}\n");
        header.Append("#:property PublishAot=false\n");
        header.Append("#:property NoWarn=$(NoWarn);CS8321;CS0168;CS0219\n");
        header.Append($"// Exported from {Path.GetFileName(doc.Path ?? "notebook.ipynb")} by `kit notebook export`. Run: dotnet run <this file>\n\n");
        foreach (var u in NotebookRunner.KernelImports.Select(n => $"using {n};").Concat(usings).Append("using static Kit.Notebook.Display;").Distinct())
            header.Append(u).Append('\n');
        return header.Append('\n').Append(body).Append(types).ToString();
    }

    // Exported parameters keep the notebook's types only for strings and plain literals.
    static string ExportLiteral(string value) =>
        bool.TryParse(value, out _) || double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)
            ? value : SymbolDisplay.FormatLiteral(value, quote: true);
}
