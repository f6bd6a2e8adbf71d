// Linear warm-up then cosine decay to a floor: the schedule nanoGPT and most tokenizer recipes use.
namespace Kit.Training;

/// <summary>Learning rate at each step: linear warm-up, then cosine decay to <c>MinFraction</c> of the peak.</summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, double MinFraction = 0.1)
{
    /// <summary>The rate for step <paramref name="step"/> (1-based).</summary>
    public double At(int step)
    {
        if (WarmupSteps > 0 && step <= WarmupSteps) return Peak * step / WarmupSteps;
        double progress = TotalSteps <= WarmupSteps ? 1 : Math.Clamp((step - WarmupSteps) / (double)(TotalSteps - WarmupSteps), 0, 1);
        double floor = Peak * MinFraction;
        return floor + (Peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
