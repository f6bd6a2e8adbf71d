// "Does this run agree with the paper?" as one type. A claim is the paper's finding, the paper's figure, this run's
// figure and a rule that decides from typed numbers (never from a rendered table); the verdict says whether it holds,
// and — when it does not — whether this scale was expected to show it at all (quick is a smoke test). Every notebook
// ends with a ClaimsTable; `kit reproduce` writes each notebook's claims.csv and one summary of them all.
using System.Globalization;
using Kit.Notebook;

namespace Kit.Evaluation;

/// <summary>What a claim's rule decided.</summary>
public enum Verdict
{
    /// <summary>This run shows the finding.</summary>
    Holds,
    /// <summary>This run does not show it, at a scale expected to.</summary>
    DoesNotHold,
    /// <summary>This run does not show it, and this scale was not expected to (a smoke test, too few steps).</summary>
    NotExpectedAtThisScale,
}

/// <summary>A rule over typed numbers, with the sentence that says what it checked.</summary>
/// <param name="Holds">Whether the numbers satisfy it.</param>
/// <param name="Says">What it compared, with the numbers (e.g. "58.5 % ≥ 2 × 10.0 % and ≥ 10.0 % + 10 points").</param>
public sealed record ClaimRule(bool Holds, string Says)
{
    static string P(double share) => (100 * share).ToString("0.0", CultureInfo.InvariantCulture) + " %";
    static string N(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>
    /// "Well above chance" for shares in [0, 1]: at least twice chance and at least 10 points over it (chance is often
    /// near 0, and 2 % is not well above 0.5 %).
    /// </summary>
    public static ClaimRule WellAboveChance(double share, double chance) =>
        new(share >= 2 * chance - Slack && share - chance >= 0.10 - Slack,
            $"{P(share)} vs chance {P(chance)}: needs ≥ 2 × chance and ≥ chance + 10 points");

    // Shares are ratios of counts: 0.15 − 0.05 is 0.0999… in floating point, and must still count as 10 points.
    const double Slack = 1e-12;

    /// <summary><paramref name="a"/> above <paramref name="b"/> (strictly); <paramref name="unit"/> names the numbers.</summary>
    public static ClaimRule Greater(double a, double b, string unit = "") => new(a > b, $"{N(a)}{unit} > {N(b)}{unit}");

    /// <summary><paramref name="a"/> below <paramref name="b"/> (strictly).</summary>
    public static ClaimRule Less(double a, double b, string unit = "") => new(a < b, $"{N(a)}{unit} < {N(b)}{unit}");

    /// <summary><paramref name="a"/> at least <paramref name="b"/> − <paramref name="tolerance"/> ("as good as, or better").</summary>
    public static ClaimRule AtLeast(double a, double b, double tolerance = 0, string unit = "") =>
        new(a >= b - tolerance, tolerance == 0 ? $"{N(a)}{unit} ≥ {N(b)}{unit}" : $"{N(a)}{unit} ≥ {N(b)}{unit} − {N(tolerance)}{unit}");

    /// <summary><paramref name="value"/> above the fixed <paramref name="bound"/>.</summary>
    public static ClaimRule Above(double value, double bound, string unit = "") => new(value > bound,
        $"{N(value)}{unit} > {N(bound)}{unit}");

    /// <summary>A share above <paramref name="bound"/> and at least 10 points over its chance level (e.g. "mostly right").</summary>
    public static ClaimRule Mostly(double share, double chance, double bound = 0.5) =>
        new(share > bound && share - chance >= 0.10 - Slack, $"{P(share)} > {P(bound)} and ≥ chance {P(chance)} + 10 points");

    /// <summary>Two rules that must both hold.</summary>
    public ClaimRule And(ClaimRule other) => new(Holds && other.Holds, $"{Says}; and {other.Says}");
}

/// <summary>One finding of a paper checked against this run.</summary>
/// <param name="Finding">The paper's finding, in a sentence.</param>
/// <param name="PaperFigure">The paper's own figure (or "stated, no figure"), with where it comes from.</param>
/// <param name="ThisRun">This run's figure, in words.</param>
/// <param name="Rule">The rule that decides, with its numbers.</param>
/// <param name="ExpectedAtThisScale">Whether this scale should show the finding (false for a smoke test of a slow effect).</param>
/// <param name="Measured">Its figures are wall-clock measurements (a speed): two runs at the same seed may differ in them.</param>
public sealed record Claim(string Finding, string PaperFigure, string ThisRun, ClaimRule Rule, bool ExpectedAtThisScale = true,
    bool Measured = false)
{
    /// <summary>What the rule decided, read with the scale's expectation.</summary>
    public Verdict Verdict => Rule.Holds ? Verdict.Holds : ExpectedAtThisScale ? Verdict.DoesNotHold : Verdict.NotExpectedAtThisScale;

    /// <summary>The verdict in words, for tables.</summary>
    public string VerdictText => Verdict switch
    {
        Verdict.Holds => "holds",
        Verdict.DoesNotHold => "does not hold",
        _ => "not shown (not expected at this scale)",
    };
}

/// <summary>A notebook's claims: the table it ends with, and what the report reads.</summary>
[TypeFormatterSource(typeof(KitFormatterSource), PreferredMimeTypes = new[] { "text/html" })]
public sealed class ClaimsTable : IRichView
{
    /// <param name="paper">The paper (or papers) the claims come from.</param>
    /// <param name="claims">The claims, in the order the notebook met them.</param>
    /// <param name="scale">The scale of this run, said in the title (quick is a smoke test).</param>
    public ClaimsTable(string paper, IEnumerable<Claim> claims, Kit.Core.RunScale scale)
    {
        Paper = paper;
        Claims = claims.ToList();
        Scale = scale;
        if (Claims.Count == 0) throw new ArgumentException("a claims table needs at least one claim.", nameof(claims));
    }

    public string Paper { get; }
    public IReadOnlyList<Claim> Claims { get; }
    public Kit.Core.RunScale Scale { get; }
    public string Title
        => $"Does this run agree with {Paper}? ({Scale.ToString().ToLowerInvariant()} " +
            $"scale{(Scale is Kit.Core.RunScale.Quick or Kit.Core.RunScale.Tiny ? ": a smoke test" : "")})";

    /// <summary>The table: finding, paper, this run, rule, verdict.</summary>
    public ResultTable Table => ResultTable.Of(Title, Claims, new TableColumn<Claim>[]
        {
            new("claim", c => c.Finding),
            new("paper", c => c.PaperFigure),
            new("this run", c => c.ThisRun),
            new("rule", c => c.Rule.Says),
            new("verdict", c => c.VerdictText),
        }, measuredRow: c => c.Measured,
        note: Scale is Kit.Core.RunScale.Quick or Kit.Core.RunScale.Tiny
            ? "Quick scale trains for a few steps: a claim marked \"not expected at this scale\" is not a failed reproduction; run the " +
                "default scale for the verdicts that count."
            : null);

    public string ToHtml() => Table.ToHtml();
    public byte[]? ToPng() => null;
    public string ToPlainText() => Table.ToPlainText();
    string? IRichView.Title => Title;
    public override string ToString() => ToPlainText();
}
