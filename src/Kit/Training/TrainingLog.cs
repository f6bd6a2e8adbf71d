// Metrics per step, kept as plain numbers so a notebook can chart or tabulate them.

namespace Kit.Training;

/// <summary>One logged step: the loss, the learning rate, named metrics and the time since the run started.</summary>
public sealed record TrainingRow(int Step, double Loss, double LearningRate, IReadOnlyDictionary<string, double> Metrics, double Seconds);

/// <summary>The rows of a run, plus evaluation rows.</summary>
public sealed class TrainingLog
{
    public List<TrainingRow> Rows { get; } = new();
    public List<TrainingRow> Evaluations { get; } = new();

    /// <summary>Loss per logged step.</summary>
    public IReadOnlyList<double> Losses => Rows.Select(r => r.Loss).ToList();

    /// <summary>Values of one metric over the logged steps (NaN where absent).</summary>
    public IReadOnlyList<double> Metric(string name) => Rows.Select(r => r.Metrics.TryGetValue(name, out var v) ? v : double.NaN).ToList();

    /// <summary>The mean loss over the last <paramref name="count"/> logged steps.</summary>
    public double FinalLoss(int count = 10) => Rows.TakeLast(count).Select(r => r.Loss).DefaultIfEmpty(double.NaN).Average();

}
