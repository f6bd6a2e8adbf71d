// UniCode's worry about two codebooks: when the tokenizer and the LLM each learn their own copy of the rows, the copies
// drift apart and the LLM's table drifts from what text pretraining made of it. Both are measured here.
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Language.UnifiedCodebook;

/// <summary>One record of the codebook drift at a step of T + U.</summary>
/// <param name="Step">Step of the whole run (tokenizer steps first; the dual paradigm interleaves them).</param>
/// <param name="Agreement">Mean cosine between the tokenizer's lookup row of each code and the LLM's row of its text id.</param>
/// <param name="Movement">‖W − W₀‖ / ‖W₀‖ over the LLM's code rows, W₀ the text-pretrained rows.</param>
public sealed record DriftPoint(int Step, double Agreement, double Movement);

/// <summary>The drift metric and when to take it.</summary>
public static class CodebookDrift
{
    /// <summary>Agreement (mean row cosine) of <paramref name="lookup"/> with <paramref name="table"/>, and the table's movement from
    /// <paramref name="start"/>.</summary>
    public static (double Agreement, double Movement) Measure(Tensor lookup, Tensor table, Tensor start)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double agreement = nn.functional.cosine_similarity(lookup.detach(), table.detach(), dim: 1).mean().item<float>();
        double movement = ((table.detach() - start).norm() / start.norm()).item<float>();
        return (agreement, movement);
    }

    /// <summary>Records at these steps of the run of <paramref name="total"/> steps: evenly spaced, the first and the last
    /// included.</summary>
    public static int[] Steps(int total, int points) =>
        Enumerable.Range(0, points).Select(i => 1 + (int)Math.Round(i * (total - 1) / (double)(points - 1))).Distinct().ToArray();
}

/// <summary>Takes the drift at chosen steps of a training loop and keeps it as a record the artifact cache stores.</summary>
public sealed class DriftRecorder
{
    /// <summary>The key of the record in the artifact cache.</summary>
    public const string RecordName = "drift";

    readonly int[] steps;
    readonly Tensor start;
    readonly List<DriftPoint> points = new();

    /// <summary>A recorder that measures at <paramref name="steps"/> against the text-pretrained rows <paramref name="start"/>.</summary>
    public DriftRecorder(IEnumerable<int> steps, Tensor start)
    {
        this.steps = steps.ToArray();
        this.start = start;
    }

    /// <summary>What was recorded so far.</summary>
    public IReadOnlyList<DriftPoint> Points => points;

    /// <summary>At a chosen <paramref name="step"/>, measures <paramref name="lookup"/> against <paramref name="table"/> (read only
    /// then).</summary>
    public void Observe(int step, Func<Tensor> lookup, Func<Tensor> table)
    {
        if (points.Count >= steps.Length || step != steps[points.Count]) return;
        var (agreement, movement) = CodebookDrift.Measure(lookup(), table(), start);
        points.Add(new DriftPoint(step, agreement, movement));
    }

    /// <summary>The points as the cache stores them (round-trip exact).</summary>
    public IReadOnlyDictionary<string, string> ToRecords() => new Dictionary<string, string>
    {
        [RecordName] = string.Join(";", points.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{p.Step},{p.Agreement:R},{p.Movement:R}"))),
    };

    /// <summary>The points stored by <see cref="ToRecords"/> (none when the artifact has no drift record).</summary>
    public static IReadOnlyList<DriftPoint> Read(IReadOnlyDictionary<string, string> records)
    {
        if (!records.TryGetValue(RecordName, out var text) || text.Length == 0) return Array.Empty<DriftPoint>();
        return text.Split(';').Select(p => p.Split(','))
            .Select(f => new DriftPoint(int.Parse(f[0], CultureInfo.InvariantCulture), double.Parse(f[1], CultureInfo.InvariantCulture),
                double.Parse(f[2], CultureInfo.InvariantCulture))).ToList();
    }
}
