// The common knob of every notebook and experiment: quick (CI, a couple of minutes on 2 cores), default (the README's
// main job on a CPU), full (GPU), and tiny (a few steps and a few images: the tests' end-to-end run of every experiment).
namespace Kit.Core;

/// <summary>How big a run is.</summary>
public enum RunScale { Quick, Default, Full, Tiny }

/// <summary>Parsing and picking values by scale.</summary>
public static class RunScales
{
    /// <summary>Parses "tiny", "quick", "default" or "full" (any case); anything else is an ArgumentException naming the value.</summary>
    public static RunScale Parse(string value) => value?.Trim().ToLowerInvariant() switch
    {
        "quick" => RunScale.Quick,
        "default" => RunScale.Default,
        "full" => RunScale.Full,
        "tiny" => RunScale.Tiny,
        _ => throw new ArgumentException($"scale '{value}' is not a scale: expected 'quick', 'default' or 'full' (or 'tiny', the " +
            $"tests' smoke runs).", nameof(value)),
    };

    /// <summary>The value for this scale: <c>scale.Pick(quick: 50, @default: 500, full: 5000)</c> (tiny takes quick's).</summary>
    public static T Pick<T>(this RunScale scale, T quick, T @default, T full) => scale switch
    {
        RunScale.Quick or RunScale.Tiny => quick,
        RunScale.Default => @default,
        _ => full,
    };

    /// <summary>The value for this scale, with a value of its own for tiny.</summary>
    public static T Pick<T>(this RunScale scale, T tiny, T quick, T @default, T full) => scale == RunScale.Tiny ? tiny : scale.Pick(quick,
        @default, full);

    /// <summary>True for the scales that train too little to show slow effects (tiny, quick): their claims are smoke tests.</summary>
    public static bool IsSmokeTest(this RunScale scale) => scale is RunScale.Quick or RunScale.Tiny;
}
