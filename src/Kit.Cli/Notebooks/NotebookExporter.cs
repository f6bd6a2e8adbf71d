// Exports a notebook as a .NET 10 file-based app (`dotnet run file.cs`), the successor Microsoft
// recommends now that Polyglot Notebooks are deprecated. Markdown becomes comments; usings are hoisted;
// type declarations move to the end (top-level statements must come first); a cell's trailing expression
// becomes display(...), as the kernel would show it. The kit comes from its project (#:project); any other
// `#r "nuget: Name, Version"` becomes `#:package Name@Version`. Parameters are checked against the parameters
// cell as the runner checks them, before anything is written.
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.DotNet.Interactive.Documents;

namespace Kit.Cli.Notebooks;

/// <summary>Writes a notebook's C# cells as one file-based app.</summary>
public static class NotebookExporter
{
    /// <summary>
    /// The app's source; <paramref name="sourceName"/> names the notebook in its header. <paramref name="kitProject"/> is the path of
    /// src/Kit/Kit.csproj relative to where the
    /// file will live; <paramref name="parameters"/> are baked in after the parameters cell, as `kit notebook run` would.
    /// A parameter the cell does not declare, or a value of the wrong type, is an ArgumentException naming it.
    /// </summary>
    public static string Export(InteractiveDocument doc, string sourceName, string kitProject,
        IReadOnlyDictionary<string, string>? parameters = null)
    {
        var usings = new List<string>();
        var packages = new List<string>();
        var body = new StringBuilder();
        var types = new StringBuilder();
        bool parametersSeen = false;
        var cells = doc.Elements.Where(e => !NotebookFile.Tags(e).Contains(NotebookFile.InjectedTag)).ToList();
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i];
            if (!NotebookFile.IsCode(cell))
            {
                foreach (var line in cell.Contents.Replace("\r\n",
                    "\n").TrimEnd('\n').Split('\n')) body.Append("// ").Append(line).Append('\n');
                body.Append('\n');
                continue;
            }
            var code = Packages(CellPreprocessor.Prepare(cell.Contents), packages, i + 1);
            var root = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Preview,
                kind: SourceCodeKind.Script)).GetRoot();
            usings.AddRange(root.Usings.Select(u => u.ToString().Trim()));
            var tags = NotebookFile.Tags(cell);
            body.Append($"// ── cell {i + 1}{(tags.Count > 0 ? $" [{string.Join(", ", tags)}]" : "")}\n");
            var members = root.Members.ToList();
            for (int m = 0; m < members.Count; m++)
            {
                var member = members[m];
                if (member is BaseTypeDeclarationSyntax or DelegateDeclarationSyntax) { types.Append(member.ToFullString().Trim())
                    .Append("\n\n"); continue; }
                if (m == members.Count - 1
                    && member is GlobalStatementSyntax { Statement: ExpressionStatementSyntax { SemicolonToken.IsMissing: true } last })
                {
                    body.Append($"display({last.Expression.ToString().Trim()});\n");
                    continue;
                }
                body.Append(member.ToFullString().Trim('\n')).Append('\n');
            }
            body.Append('\n');
            if (tags.Contains(NotebookFile.ParametersTag) && !parametersSeen)
            {
                parametersSeen = true;
                if (parameters is { Count: > 0 })
                {
                    var declared = NotebookParameters.Declared(code, References());
                    body.Append(NotebookParameters.Assignments(declared, parameters, "`kit notebook export`")).Append("\n\n");
                }
            }
        }
        if (!parametersSeen && parameters is { Count: > 0 })
            throw new ArgumentException($"parameters {string.Join(", ", parameters.Keys)} were given, but the notebook has no cell " +
                $"tagged 'parameters'.");
        var header = new StringBuilder();
        header.Append("#!/usr/bin/env -S dotnet run\n");
        header.Append($"#:project {kitProject}\n");
        foreach (var p in packages.Distinct()) header.Append(p).Append('\n');
        header.Append("#:property PublishAot=false\n");
        header.Append("#:property NoWarn=$(NoWarn);CS8321;CS0168;CS0219\n");
        header.Append($"// Exported from {Path.GetFileName(sourceName)} by `kit notebook export`. Run: dotnet run <this file>\n\n");
        foreach (var u in NotebookParameters.KernelImports.Select(n => $"using {n};").Concat(usings).Append("using static " +
            "Kit.Notebook.Display;").Distinct())
            header.Append(u).Append('\n');
        return header.Append('\n').Append(body).Append(types).ToString();
    }

    // `#r "nuget: Name, Version"` for a package the kit does not carry becomes a `#:package` line of the app.
    static string Packages(string code, List<string> packages, int cell)
    {
        var lines = code.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (CellPreprocessor.ReferencedPackage(lines[i]) is not string name) continue;
            var version = System.Text.RegularExpressions.Regex.Match(lines[i], @",\s*([^""\s]+)\s*""").Groups[1].Value;
            if (version.Length == 0 || version.Contains('*'))
                throw new ArgumentException($"cell {cell}, line {i + 1}: `{lines[i].Trim()}` names no exact version; a file-based app " +
                    $"needs one (#:package {name}@VERSION).");
            packages.Add($"#:package {name}@{version}");
            lines[i] = "";
        }
        return string.Join("\n", lines);
    }

    // What the exported app compiles against, for checking the parameters cell: this build's kit and its packages.
    static IEnumerable<MetadataReference> References()
    {
        _ = typeof(Kit.Core.KitRuntime);
        return AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && !string.IsNullOrEmpty(a.Location))
            .Select(a => (MetadataReference)MetadataReference.CreateFromFile(a.Location));
    }
}
