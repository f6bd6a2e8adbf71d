// The common knob of every notebook and experiment: quick (CI, a couple of minutes on 2 cores),
// default (the README's main job on a CPU) and full (GPU).
namespace Kit.Core;

/// <summary>How big a run is.</summary>
public enum RunScale { Quick, Default, Full }

/// <summary>Parsing and picking values by scale.</summary>
public static class RunScales
{
    /// <summary>Parses "quick", "default" or "full" (any case); anything else is an ArgumentException naming the value.</summary>
    public static RunScale Parse(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "quick" => RunScale.Quick,
        "default" => RunScale.Default,
        "full" => RunScale.Full,
        _ => throw new ArgumentException($"scale '{value}' is not a scale: expected 'quick', 'default' or 'full'.", nameof(value)),
    };

    /// <summary>The value for this scale: <c>scale.Pick(quick: 50, @default: 500, full: 5000)</c>.</summary>
    public static T Pick<T>(this RunScale scale, T quick, T @default, T full) => scale switch
    {
        RunScale.Quick => quick,
        RunScale.Default => @default,
        _ => full,
    };
}
