// The trainer reports each step to whatever display the running program supplies (the notebook layer's progress bar,
// set when the kit loads); the training layer itself knows no display.
namespace Kit.Training;

/// <summary>Where a training loop reports its steps.</summary>
public interface ITrainingProgress
{
    /// <summary>Step <paramref name="step"/> is done, with its metrics (loss included).</summary>
    void Report(long step, IReadOnlyDictionary<string, double>? metrics = null);
}

/// <summary>Makes the progress display of each training run.</summary>
public static class TrainingProgressDisplay
{
    /// <summary>
    /// Builds a display for a run of (total steps, label); null shows nothing. The kit sets the notebook layer's
    /// progress bar here when it loads; a program may put its own.
    /// </summary>
    public static Func<long, string, ITrainingProgress?> Create { get; set; } = (_, _) => null;
}
