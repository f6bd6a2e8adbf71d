// Progress for long loops: an in-place bar in notebooks, a compact line on the terminal (steps/s, ETA,
// latest metrics). Updates are throttled so a fast loop does not spend its time drawing.
using System.Diagnostics;
using System.Globalization;
using Kit.Training;

namespace Kit.Notebook;

/// <summary>A snapshot of a loop's progress; displays as a bar.</summary>
[TypeFormatterSource(typeof(KitFormatterSource), PreferredMimeTypes = new[] { "text/html" })]
public sealed record ProgressView(string Label, long Step, long Total, double Seconds,
    IReadOnlyDictionary<string, double> Metrics) : IRichView
{
    /// <summary>Steps per second so far.</summary>
    public double StepsPerSecond => Seconds > 0 ? Step / Seconds : 0;
    /// <summary>Estimated seconds left.</summary>
    public double EtaSeconds => StepsPerSecond > 0 ? (Total - Step) / StepsPerSecond : double.NaN;

    public string ToPlainText()
    {
        var metrics = string.Join(" ", Metrics.Select(kv => $"{kv.Key} {kv.Value.ToString("0.####", CultureInfo.InvariantCulture)}"));
        var eta = double.IsNaN(EtaSeconds) ? "?" : $"{EtaSeconds:0}s";
        var percent = Total > 0 ? 100.0 * Step / Total : 0;
        var line = $"{Label} {Step}/{Total} {percent:0}% | {StepsPerSecond:0.0} it/s | eta {eta} | {metrics}";
        return line.TrimEnd(' ', '|');
    }

    public string ToHtml() =>
        $"<div style=\"font-family: monospace\"><progress value=\"{Step}\" max=\"{Math.Max(1, Total)}\" style=\"width: " +
            $"240px\"></progress> {ImageGrid.Escape(ToPlainText())}</div>";

    public byte[]? ToPng() => null;
    public override string ToString() => ToPlainText();
}

/// <summary>Reports a loop's progress to the notebook (in place) and to the terminal.</summary>
public sealed class TrainingProgress : ITrainingProgress
{
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly IDisplayHandle? _handle;
    readonly TimeSpan _every;
    readonly TextWriter? _terminal;
    TimeSpan? _last;

    /// <summary>
    /// Starts a progress display of <paramref name="total"/> steps. <paramref name="showInNotebook"/> shows a bar that
    /// updates in place when a notebook runs the code; otherwise (or when <paramref name="terminal"/> is given) each update
    /// is a line on standard error. A notebook gets no lines: a kernel turns them into one output per update.
    /// </summary>
    public TrainingProgress(long total, string label = "train", double updateSeconds = 0.5, bool showInNotebook = true,
        TextWriter? terminal = null)
    {
        if (total <= 0) throw new ArgumentOutOfRangeException(nameof(total), total, "expected a positive number of steps");
        Total = total; Label = label; _every = TimeSpan.FromSeconds(updateSeconds);
        Latest = new ProgressView(label, 0, total, 0, new Dictionary<string, double>());
        if (showInNotebook && (Display.Sink is not null || Display.InKernel)) _handle = Display.Show(Latest);
        _terminal = terminal ?? (_handle is null ? Console.Error : null);
    }

    public long Total { get; }
    public string Label { get; }
    /// <summary>The most recent snapshot.</summary>
    public ProgressView Latest { get; private set; }

    /// <summary>Records that <paramref name="step"/> steps are done, with the latest metrics.</summary>
    public void Report(long step, IReadOnlyDictionary<string, double>? metrics = null)
    {
        Latest = new ProgressView(Label, step, Total, _clock.Elapsed.TotalSeconds, metrics ?? Latest.Metrics);
        if (step < Total && _last is TimeSpan last && _clock.Elapsed - last < _every) return;
        _last = _clock.Elapsed;
        _handle?.Update(Latest);
        _terminal?.WriteLine(Latest.ToPlainText());
    }
}
