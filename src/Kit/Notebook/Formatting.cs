// Rich display without a dependency on .NET Interactive: its kernel honours any attribute *named*
// TypeFormatterSourceAttribute on a displayed type and asks the named source for formatters (objects with
// a MimeType and a bool Format(object, TextWriter)). TorchSharp formats Tensor the same way. The kit's
// headless runner follows the same convention, so a cell displays the same in both.
namespace Kit.Notebook;

/// <summary>Marks a type whose instances display richly in Polyglot Notebooks and the kit's runner.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = true)]
public sealed class TypeFormatterSourceAttribute : Attribute
{
    public TypeFormatterSourceAttribute(Type formatterSourceType) => FormatterSourceType = formatterSourceType;

    /// <summary>The type whose CreateTypeFormatters() yields the formatters.</summary>
    public Type FormatterSourceType { get; }

    /// <summary>The MIME type the kernel should pick first.</summary>
    public string[] PreferredMimeTypes { get; set; } = { "text/html" };
}

/// <summary>Something the kit knows how to show: HTML for notebooks, optionally a PNG, and plain text for terminals.</summary>
public interface IRichView
{
    /// <summary>Self-contained HTML (no network access needed).</summary>
    string ToHtml();
    /// <summary>PNG bytes, for views that are pictures; null otherwise.</summary>
    byte[]? ToPng();
    /// <summary>A short plain-text rendering.</summary>
    string ToPlainText();
    /// <summary>The view's title (names its file in reports and exported apps); null when it has none.</summary>
    string? Title => null;
}

/// <summary>The formatter source every kit view names in its attribute.</summary>
public sealed class KitFormatterSource
{
    public IEnumerable<object> CreateTypeFormatters()
    {
        yield return new KitFormatter("text/html");
        yield return new KitFormatter("image/png");
        yield return new KitFormatter("text/plain");
    }
}

/// <summary>One MIME type's formatter for <see cref="IRichView"/> values.</summary>
public sealed class KitFormatter
{
    public KitFormatter(string mimeType) => MimeType = mimeType;

    public string MimeType { get; }

    /// <summary>Writes <paramref name="instance"/> as <see cref="MimeType"/>; false when it cannot (not a view, or no PNG).</summary>
    public bool Format(object instance, TextWriter writer)
    {
        if (instance is not IRichView view) return false;
        switch (MimeType)
        {
            case "text/html": writer.Write(view.ToHtml()); return true;
            case "text/plain": writer.Write(view.ToPlainText()); return true;
            case "image/png":
                var png = view.ToPng();
                if (png is null) return false;
                writer.Write(Convert.ToBase64String(png)); // notebooks carry image/png as base64 text
                return true;
            default: return false;
        }
    }
}
