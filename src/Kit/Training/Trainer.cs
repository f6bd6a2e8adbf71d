// The one training loop every model uses: AdamW, warm-up + cosine schedule, gradient clipping, metrics per
// step, progress, periodic evaluation, atomic checkpoints with resume, and a stop with a clear message on
// a NaN or infinite loss. Each step runs in its own dispose scope, so memory stays flat.
// Parameters may come in groups, each with its own AdamW and settings, and a schedule says which groups step at each
// step: a GAN's generator and discriminator (each its own loss, both every step), or UniCode's dual alternating
// training (tokenizer phases, then language-model phases). A group that is not scheduled is left exactly as it was.
using System.Diagnostics;
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Training;

/// <summary>What one training step computed: the loss to minimise and metrics to log (scalar tensors).</summary>
/// <param name="Loss">The loss (of every scheduled group that has none of its own in <paramref name="GroupLosses"/>); logged and checked
/// for NaN.</param>
/// <param name="Metrics">Scalars to log.</param>
/// <param name="GroupLosses">Per group, by name, the loss that group minimises this step (e.g. a discriminator's own).</param>
public sealed record StepResult(Tensor Loss, IReadOnlyDictionary<string, Tensor>? Metrics = null,
    IReadOnlyDictionary<string, Tensor>? GroupLosses = null);

/// <summary>Parameters trained together by one AdamW, with settings of their own (null: the run's).</summary>
/// <param name="Name">The group's name (schedules and per-group losses use it).</param>
/// <param name="Parameters">Its parameters.</param>
/// <param name="LearningRate">Peak learning rate; the run's warm-up and cosine shape scale it.</param>
/// <param name="WeightDecay">AdamW weight decay.</param>
/// <param name="Beta1">AdamW β1 (a GAN's discriminator often takes 0.5).</param>
/// <param name="Beta2">AdamW β2.</param>
public sealed record ParameterGroup(string Name, IReadOnlyList<Parameter> Parameters, double? LearningRate = null,
    double? WeightDecay = null, double Beta1 = 0.9, double Beta2 = 0.999);

/// <summary>Which parameter groups step at a step.</summary>
public static class StepSchedules
{
    /// <summary>Every group, every step.</summary>
    public static Func<int, IReadOnlyCollection<string>> All(IEnumerable<ParameterGroup> groups)
    {
        var names = groups.Select(g => g.Name).ToArray();
        return _ => names;
    }

    /// <summary>Phases of <paramref name="phaseSteps"/> steps, one group after another in turn (steps 1…n the first, n+1…2n the second,
    /// …).</summary>
    public static Func<int, IReadOnlyCollection<string>> Alternate(int phaseSteps, params string[] groups)
    {
        if (phaseSteps < 1) throw new ArgumentOutOfRangeException(nameof(phaseSteps), phaseSteps, "expected at least one step per phase");
        if (groups.Length == 0) throw new ArgumentException("expected at least one group to alternate.", nameof(groups));
        return step => new[] { groups[(step - 1) / phaseSteps % groups.Length] };
    }

    /// <summary>
    /// Phases of unequal length repeated in a cycle: <paramref name="phases"/> (group, steps) in order, then again
    /// (UniCode's dual training: a tokenizer phase of T/P steps, then a language-model phase of U/P steps, P times).
    /// </summary>
    public static Func<int, IReadOnlyCollection<string>> Cycle(params (string Group, int Steps)[] phases)
    {
        if (phases.Length == 0) throw new ArgumentException("expected at least one phase.", nameof(phases));
        foreach (var (group, steps) in phases)
            if (steps < 1) throw new ArgumentOutOfRangeException(nameof(phases), steps, $"phase '{group}': expected at least one step");
        int period = phases.Sum(p => p.Steps);
        return step =>
        {
            int at = (step - 1) % period;
            foreach (var (group, steps) in phases) { if (at < steps) return new[] { group }; at -= steps; }
            throw new InvalidOperationException("unreachable: the cycle covers its period");
        };
    }
}

/// <summary>Settings of a training run.</summary>
/// <param name="Steps">Total optimiser steps.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="WeightDecay">AdamW weight decay.</param>
/// <param name="WarmupSteps">Linear warm-up steps.</param>
/// <param name="MinLearningRateFraction">Cosine floor as a fraction of the peak.</param>
/// <param name="GradientClip">Maximum global gradient norm (0 = no clipping).</param>
/// <param name="LogEvery">Steps between logged rows (the last step is always logged).</param>
/// <param name="EvaluateEvery">Steps between evaluations (0 = only at the end, when an evaluation is given).</param>
/// <param name="CheckpointEvery">Steps between checkpoints (0 = none); needs CheckpointPath.</param>
/// <param name="CheckpointPath">Where the checkpoint is written (.safetensors; the optimiser state goes beside it).</param>
/// <param name="Resume">Continue from the checkpoint when it exists (its stored config must equal the run's, and its step not pass
/// Steps).</param>
/// <param name="Label">Name shown by the progress display.</param>
/// <param name="ShowProgress">Report progress to the notebook and terminal.</param>
/// <param name="ResumeMismatched">Resume even from a checkpoint whose stored config differs from the run's, or whose step passes
/// Steps.</param>
public sealed record TrainerOptions(int Steps, double LearningRate = 1e-3, double WeightDecay = 0, int WarmupSteps = 0,
    double MinLearningRateFraction = 0.1, double GradientClip = 1.0, int LogEvery = 10, int EvaluateEvery = 0,
    int CheckpointEvery = 0, string? CheckpointPath = null, bool Resume = true, string Label = "train", bool ShowProgress = true,
        bool ResumeMismatched = false);

/// <summary>Thrown when the loss stops being a finite number.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(string message) : base(message) { }
}

/// <summary>Runs a step function for a number of steps on a model's parameters.</summary>
public sealed class Trainer
{
    readonly nn.Module _model;
    readonly TrainerOptions _options;
    readonly IReadOnlyList<ParameterGroup> _groups;
    readonly List<(ParameterGroup Group, List<Parameter> Parameters, OptimizerHelper Optimizer)> _optimizers;
    readonly Func<int, IReadOnlyCollection<string>> _stepping;
    readonly LearningRateSchedule _schedule;
    long _lastGoodCheckpointStep = -1;

    /// <summary>One group: <paramref name="parameters"/> (default: the model's), one AdamW with the run's settings.</summary>
    public Trainer(nn.Module model, TrainerOptions options, IEnumerable<Parameter>? parameters = null)
        : this(model, options, new[] { new ParameterGroup("all", (parameters ?? model.parameters()).ToList()) })
    { }

    /// <summary>
    /// Several groups, each its own AdamW; <paramref name="schedule"/> names the groups that step at step s (default: all).
    /// Scheduled groups step in the order given, each on its own loss (StepResult.GroupLosses) or the step's loss.
    /// </summary>
    public Trainer(nn.Module model, TrainerOptions options, IReadOnlyList<ParameterGroup> groups,
        Func<int, IReadOnlyCollection<string>>? schedule = null)
    {
        if (options.Steps <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.Steps, "Steps must be positive");
        if (options.CheckpointEvery > 0 && options.CheckpointPath is null)
            throw new ArgumentException("CheckpointEvery > 0 needs a CheckpointPath.", nameof(options));
        if (groups.Count == 0) throw new ArgumentException("expected at least one parameter group.", nameof(groups));
        if (groups.Select(g => g.Name).Distinct().Count() != groups.Count) throw new ArgumentException($"group names must differ: " +
            $"{string.Join(", ", groups.Select(g => g.Name))}.", nameof(groups));
        _model = model;
        _options = options;
        _groups = groups;
        _optimizers = groups.Select(g =>
        {
            var trainable = g.Parameters.Where(p => p.requires_grad).ToList();
            var optimizer = optim.AdamW(trainable, g.LearningRate ?? options.LearningRate, beta1: g.Beta1, beta2: g.Beta2,
                weight_decay: g.WeightDecay ?? options.WeightDecay);
            return (g, trainable, (OptimizerHelper)optimizer);
        }).ToList();
        _stepping = schedule ?? StepSchedules.All(groups);
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRateFraction);
    }

    /// <summary>The first group's optimiser (AdamW), for callers that need its state.</summary>
    public OptimizerHelper Optimizer => _optimizers[0].Optimizer;

    /// <summary>Each group's optimiser, by group name.</summary>
    public IReadOnlyDictionary<string, OptimizerHelper> Optimizers => _optimizers.ToDictionary(o => o.Group.Name, o => o.Optimizer);

    /// <summary>
    /// Runs steps until Options.Steps. <paramref name="step"/> gets the 1-based step number and must derive its
    /// batch from it (e.g. <c>KitRandom.For(seed, step)</c>), so a resumed run sees the same batches.
    /// </summary>
    public TrainingLog Run(Func<int, StepResult> step, Func<int, IReadOnlyDictionary<string, double>>? evaluate = null,
        object? config = null)
    {
        var log = new TrainingLog();
        int start = TryResume(config);
        var progress = _options.ShowProgress ? TrainingProgressDisplay.Create(_options.Steps, _options.Label) : null;
        var clock = Stopwatch.StartNew();
        for (int s = start + 1; s <= _options.Steps; s++)
        {
            double lr = _schedule.At(s);
            foreach (var (group, _, optimizer) in _optimizers)
                foreach (var g in optimizer.ParamGroups) g.LearningRate = group.LearningRate is double peak
                    ? lr * peak / _options.LearningRate : lr;
            var scheduled = _stepping(s);
            foreach (var name in scheduled)
                if (_groups.All(g => g.Name != name)) throw new InvalidOperationException($"the schedule names group '{name}' at step " +
                    $"{s}; the groups are {string.Join(", ", _groups.Select(g => g.Name))}.");
            bool logThis = s % _options.LogEvery == 0 || s == _options.Steps;
            var (loss, metrics) = Scopes.Step(() =>
            {
                _model.train();
                var result = step(s);
                // One sync per step: a non-finite loss stops the run before it can reach the weights.
                double value = result.Loss.item<float>();
                if (double.IsNaN(value) || double.IsInfinity(value)) return (value, new Dictionary<string, double>());
                var stepping = _optimizers.Where(o => scheduled.Contains(o.Group.Name)).ToList();
                if (result.GroupLosses is null && stepping.Count > 1)
                {
                    // One loss for every group (groups that differ only in their settings): one backward, then each steps.
                    // A backward per group would read weights an earlier group's step had already changed in place.
                    foreach (var (_, _, optimizer) in stepping) optimizer.zero_grad();
                    result.Loss.backward();
                    foreach (var (_, parameters, optimizer) in stepping)
                    {
                        ClipGradients(parameters, s, value);
                        optimizer.step();
                    }
                    stepping.Clear();
                }
                for (int i = 0; i < stepping.Count; i++)
                {
                    var (group, parameters, optimizer) = stepping[i];
                    var groupLoss = result.GroupLosses?.GetValueOrDefault(group.Name) ?? result.Loss;
                    optimizer.zero_grad();
                    groupLoss.backward(retain_graph: i < stepping.Count - 1); // a later group's loss may share this graph
                    ClipGradients(parameters, s, value);
                    optimizer.step();
                }
                var logged = logThis && result.Metrics is not null
                    ? result.Metrics.ToDictionary(kv => kv.Key, kv => (double)kv.Value.item<float>())
                    : new Dictionary<string, double>();
                return (value, logged);
            });
            if (double.IsNaN(loss) || double.IsInfinity(loss))
                throw new TrainingDivergedException($"{_options.Label}: the loss is {loss} at step {s}; " +
                    LastGoodCheckpoint + " Lower the learning rate or check the inputs.");
            if (logThis) log.Rows.Add(new TrainingRow(s, loss, lr, metrics, clock.Elapsed.TotalSeconds));
            progress?.Report(s,
                metrics.Count > 0 ? new Dictionary<string, double>(metrics) { ["loss"] = loss }
                    : new Dictionary<string, double> { ["loss"] = loss });
            if (evaluate is not null && _options.EvaluateEvery > 0 && s % _options.EvaluateEvery == 0 && s != _options.Steps)
                log.Evaluations.Add(Evaluate(evaluate, s, clock));
            if (_options.CheckpointEvery > 0 && s % _options.CheckpointEvery == 0) TrySaveCheckpoint(s, config);
        }
        if (evaluate is not null) log.Evaluations.Add(Evaluate(evaluate, _options.Steps, clock));
        _model.eval();
        return log;
    }

    // Clips the global gradient norm; a norm that is not finite stops the run before the step is applied (clipping and
    // AdamW would turn it into NaN weights, and the next step's loss would be the first sign). An infinite norm leaves
    // exactly the infinite gradients as NaN after clipping (∞ · 0), so they are named; a NaN norm makes every gradient NaN.
    void ClipGradients(IReadOnlyList<Parameter> parameters, int step, double loss)
    {
        if (_options.GradientClip <= 0) return;
        double norm = nn.utils.clip_grad_norm_(parameters, _options.GradientClip);
        if (double.IsFinite(norm)) return;
        var names = _model.named_parameters().ToDictionary(p => p.parameter.Handle, p => p.name);
        var bad = parameters.Where(p => p.grad is { } g && !g.isfinite().all().item<bool>())
            .Select(p => names.GetValueOrDefault(p.Handle, "(a parameter outside the model)")).ToList();
        var which = bad.Count < parameters.Count
            ? $"non-finite gradients in {string.Join(", ", bad.Take(8))}{(bad.Count > 8 ? $" and {bad.Count - 8} more" : "")}"
            : "every gradient is NaN after clipping, so the first non-finite one cannot be told";
        throw new TrainingDivergedException($"{_options.Label}: the gradient norm is {norm} at step {step} while the loss was {loss} " +
            $"({which}): " +
            "a 0/0 or a square root of 0 in the backward pass, or a non-finite input. The step was not applied; " + LastGoodCheckpoint);
    }

    // How a stopped run's message ends: where its work is kept, if anywhere.
    string LastGoodCheckpoint => _lastGoodCheckpointStep >= 0
        ? $"the last good checkpoint is {_options.CheckpointPath} (step {_lastGoodCheckpointStep})."
        : "no checkpoint was written before it.";

    TrainingRow Evaluate(Func<int, IReadOnlyDictionary<string, double>> evaluate, int s, Stopwatch clock)
    {
        _model.eval();
        using var noGrad = no_grad();
        var values = Scopes.Step(() => evaluate(s));
        return new TrainingRow(s, double.NaN, _schedule.At(s), values, clock.Elapsed.TotalSeconds);
    }

    // A checkpoint is a set of files: the optimiser state of each group and the generator state, then the model's file,
    // written last. The parts carry their step in their names and the model's file lists them with their SHA-256, so a
    // kill between two writes never mixes steps: until the new model file is in place, the old one names the old parts,
    // which are deleted only after it. A set whose parts are missing or changed is refused, naming them.
    string OptimizerPart(int group, long step)
        => $"{_options.CheckpointPath}.step-{step}.optimizer{(_optimizers.Count == 1 ? "" : "." + _optimizers[group].Group.Name)}";
    string RngPart(long step) => $"{_options.CheckpointPath}.step-{step}.rng.safetensors";
    const string PartsKey = "kit.parts";

    /// <summary>Writes model, optimiser and generator state for step <paramref name="s"/> as one consistent set (see the note on the
    /// parts).</summary>
    public void SaveCheckpoint(int s, object? config = null)
    {
        var path = _options.CheckpointPath ?? throw new InvalidOperationException("TrainerOptions.CheckpointPath is not set.");
        var parts = new Dictionary<string, string>();
        for (int g = 0; g < _optimizers.Count; g++)
        {
            var optimizer = _optimizers[g].Optimizer;
            var part = OptimizerPart(g, s);
            AtomicFile.Write(part, stream => { using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8,
                leaveOpen: true); optimizer.save_state_dict(w); });
            parts[Path.GetFileName(part)] = Sha256(part);
        }
        using (var rng = random.get_rng_state()) Safetensors.Write(RngPart(s), new Dictionary<string, Tensor> { ["cpu"] = rng });
        parts[Path.GetFileName(RngPart(s))] = Sha256(RngPart(s));
        Checkpoint.Save(path, _model, config, s,
            new Dictionary<string, string> { [PartsKey] = System.Text.Json.JsonSerializer.Serialize(parts) });
        _lastGoodCheckpointStep = s;
        // The set is complete: parts of other steps (this path's earlier checkpoints) are no longer named by any model file.
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var stale in Directory.GetFiles(folder, Path.GetFileName(path)
            + ".step-*").Where(f => !parts.ContainsKey(Path.GetFileName(f)) && !f.EndsWith(".tmp", StringComparison.Ordinal)))
            File.Delete(stale);
    }

    // A checkpoint that cannot be written (a full disk, a folder gone) does not end the run: the weights in memory are the
    // work, and the caller saves them at the end. The last complete set stays as it was (its model file still names its parts).
    void TrySaveCheckpoint(int s, object? config)
    {
        try { SaveCheckpoint(s, config); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kit: {_options.Label}: the checkpoint of step {s} could not be written to " +
                $"{_options.CheckpointPath} ({e.Message}); training goes on" +
                (_lastGoodCheckpointStep >= 0 ? $", and the last complete checkpoint is still step {_lastGoodCheckpointStep}'s" : "")
                + ".");
        }
    }

    static string Sha256(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream)).ToLowerInvariant();
    }

    // The parts the model file names, each checked against its hash; an InvalidOperationException says what does not fit.
    Dictionary<string, string> Parts(string path, CheckpointInfo info)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!info.Metadata.TryGetValue(PartsKey, out var json))
            throw new InvalidOperationException($"{_options.Label}: the checkpoint '{path}' (step {info.Step}) names no optimiser or " +
                $"generator parts (an earlier kit wrote it), " +
                "so they cannot be checked to be of the same step. Delete it (and its .optimizer / .rng files) to start over.");
        var parts = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(json)!;
        var expected = Enumerable.Range(0, _optimizers.Count).Select(g => Path.GetFileName(OptimizerPart(g,
            info.Step))).Append(Path.GetFileName(RngPart(info.Step)));
        var problems = new List<string>();
        foreach (var name in expected)
        {
            var file = Path.Combine(folder, name);
            if (!parts.TryGetValue(name,
                out var hash)) problems.Add($"{name} is not among the parts the checkpoint names ({string.Join(", ", parts.Keys)})");
            else if (!File.Exists(file)) problems.Add($"{file} is missing");
            else if (Sha256(file) != hash) problems.Add($"{file} is not the file written with it (its contents changed)");
        }
        if (problems.Count > 0)
            throw new InvalidOperationException($"{_options.Label}: the checkpoint '{path}' (step {info.Step}) is not a consistent " +
                $"set: {string.Join("; ", problems)}. " +
                "Delete the checkpoint and its parts to start over.");
        return parts.ToDictionary(kv => kv.Key, kv => Path.Combine(folder, kv.Key));
    }

    int TryResume(object? config)
    {
        var path = _options.CheckpointPath;
        if (!_options.Resume || path is null || !File.Exists(path)) return 0;
        // A checkpoint of another run (another config, or more steps than this one asks) is refused before anything is
        // loaded: resuming it would train on from weights this run did not make, or train nothing at all. So is a set whose
        // parts are not the ones written with it.
        var stored = Checkpoint.ReadInfo(path);
        string? current = config is null ? null : Checkpoint.SerializeConfig(config);
        bool same = stored.ConfigJson == current;
        if (!_options.ResumeMismatched)
        {
            if (!same)
                throw new InvalidOperationException($"{_options.Label}: the checkpoint '{path}' (step {stored.Step}) was written with " +
                    $"config {stored.ConfigJson ?? "(none)"}, " +
                    $"and this run's is {current ?? "(none)"}. Give another CheckpointPath, delete the checkpoint, or set " +
                        $"ResumeMismatched to resume it anyway.");
            if (stored.Step > _options.Steps)
                throw new InvalidOperationException($"{_options.Label}: the checkpoint '{path}' is at step {stored.Step}, past this " +
                    $"run's Steps={_options.Steps}. " +
                    "Give another CheckpointPath, delete the checkpoint, or set ResumeMismatched to resume it anyway.");
        }
        Parts(path, stored);
        var info = Checkpoint.Load(path, _model);
        Console.WriteLine($"{_options.Label}: resumed '{path}' at step {info.Step} of {_options.Steps} (model, optimiser and generator " +
            $"state of that step)" +
            (info.Step >= _options.Steps ? " (finished: no step left to train)" : "") +
            (same ? "; its stored config matches this run's" : "; its stored config differs from this run's (resumed as asked)"));
        for (int g = 0; g < _optimizers.Count; g++)
        {
            using var stream = File.OpenRead(OptimizerPart(g, info.Step));
            using var reader = new BinaryReader(stream);
            _optimizers[g].Optimizer.load_state_dict(reader);
        }
        var (tensors, _) = Safetensors.Read(RngPart(info.Step));
        random.set_rng_state(tensors["cpu"]);
        foreach (var t in tensors.Values) t.Dispose();
        _lastGoodCheckpointStep = info.Step;
        return (int)info.Step;
    }
}
