// The one training loop every model uses: AdamW, warm-up + cosine schedule, gradient clipping, metrics per
// step, progress, periodic evaluation, atomic checkpoints with resume, and a stop with a clear message on
// a NaN or infinite loss. Each step runs in its own dispose scope, so memory stays flat.
using System.Diagnostics;
using Kit.Core;
using Kit.Notebook;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Kit.Training;

/// <summary>What one training step computed: the loss to minimise and metrics to log (scalar tensors).</summary>
public sealed record StepResult(Tensor Loss, IReadOnlyDictionary<string, Tensor>? Metrics = null);

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
/// <param name="Resume">Continue from the checkpoint when it exists.</param>
/// <param name="Label">Name shown by the progress display.</param>
/// <param name="ShowProgress">Report progress to the notebook and terminal.</param>
public sealed record TrainerOptions(int Steps, double LearningRate = 1e-3, double WeightDecay = 0, int WarmupSteps = 0,
    double MinLearningRateFraction = 0.1, double GradientClip = 1.0, int LogEvery = 10, int EvaluateEvery = 0,
    int CheckpointEvery = 0, string? CheckpointPath = null, bool Resume = true, string Label = "train", bool ShowProgress = true);

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
    readonly List<Parameter> _parameters;
    readonly OptimizerHelper _optimizer;
    readonly LearningRateSchedule _schedule;
    long _lastGoodCheckpointStep = -1;

    public Trainer(nn.Module model, TrainerOptions options, IEnumerable<Parameter>? parameters = null)
    {
        if (options.Steps <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.Steps, "Steps must be positive");
        if (options.CheckpointEvery > 0 && options.CheckpointPath is null)
            throw new ArgumentException("CheckpointEvery > 0 needs a CheckpointPath.", nameof(options));
        _model = model;
        _options = options;
        _parameters = (parameters ?? model.parameters()).Where(p => p.requires_grad).ToList();
        _optimizer = optim.AdamW(_parameters, options.LearningRate, weight_decay: options.WeightDecay);
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRateFraction);
    }

    /// <summary>The optimiser (AdamW), for callers that need its state.</summary>
    public OptimizerHelper Optimizer => _optimizer;

    /// <summary>
    /// Runs steps until Options.Steps. <paramref name="step"/> gets the 1-based step number and must derive its
    /// batch from it (e.g. <c>KitRandom.For(seed, step)</c>), so a resumed run sees the same batches.
    /// </summary>
    public TrainingLog Run(Func<int, StepResult> step, Func<int, IReadOnlyDictionary<string, double>>? evaluate = null, object? config = null)
    {
        var log = new TrainingLog();
        int start = TryResume();
        var progress = _options.ShowProgress ? new TrainingProgress(_options.Steps, _options.Label) : null;
        var clock = Stopwatch.StartNew();
        for (int s = start + 1; s <= _options.Steps; s++)
        {
            double lr = _schedule.At(s);
            foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
            bool logThis = s % _options.LogEvery == 0 || s == _options.Steps;
            var (loss, metrics) = Scopes.Step(() =>
            {
                _model.train();
                var result = step(s);
                // One sync per step: a non-finite loss stops the run before it can reach the weights.
                double value = result.Loss.item<float>();
                if (double.IsNaN(value) || double.IsInfinity(value)) return (value, new Dictionary<string, double>());
                _optimizer.zero_grad();
                result.Loss.backward();
                if (_options.GradientClip > 0) nn.utils.clip_grad_norm_(_parameters, _options.GradientClip);
                _optimizer.step();
                var logged = logThis && result.Metrics is not null
                    ? result.Metrics.ToDictionary(kv => kv.Key, kv => (double)kv.Value.item<float>())
                    : new Dictionary<string, double>();
                return (value, logged);
            });
            if (double.IsNaN(loss) || double.IsInfinity(loss))
                throw new TrainingDivergedException($"{_options.Label}: the loss is {loss} at step {s}; " +
                    (_lastGoodCheckpointStep >= 0 ? $"the last good checkpoint is {_options.CheckpointPath} (step {_lastGoodCheckpointStep})." : "no checkpoint was written before it.") +
                    " Lower the learning rate or check the inputs.");
            if (logThis) log.Rows.Add(new TrainingRow(s, loss, lr, metrics, clock.Elapsed.TotalSeconds));
            progress?.Report(s, metrics.Count > 0 ? new Dictionary<string, double>(metrics) { ["loss"] = loss } : new Dictionary<string, double> { ["loss"] = loss });
            if (evaluate is not null && _options.EvaluateEvery > 0 && s % _options.EvaluateEvery == 0 && s != _options.Steps)
                log.Evaluations.Add(Evaluate(evaluate, s, clock));
            if (_options.CheckpointEvery > 0 && s % _options.CheckpointEvery == 0) SaveCheckpoint(s, config);
        }
        if (evaluate is not null) log.Evaluations.Add(Evaluate(evaluate, _options.Steps, clock));
        _model.eval();
        return log;
    }

    TrainingRow Evaluate(Func<int, IReadOnlyDictionary<string, double>> evaluate, int s, Stopwatch clock)
    {
        _model.eval();
        using var noGrad = no_grad();
        var values = Scopes.Step(() => evaluate(s));
        return new TrainingRow(s, double.NaN, _schedule.At(s), values, clock.Elapsed.TotalSeconds);
    }

    string OptimizerPath => _options.CheckpointPath + ".optimizer";
    string RngPath => _options.CheckpointPath + ".rng.safetensors";

    /// <summary>Writes model, optimiser and generator state for step <paramref name="s"/> (each file atomically).</summary>
    public void SaveCheckpoint(int s, object? config = null)
    {
        var path = _options.CheckpointPath ?? throw new InvalidOperationException("TrainerOptions.CheckpointPath is not set.");
        AtomicFile.Write(OptimizerPath, stream => { using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true); _optimizer.save_state_dict(w); });
        using (var rng = random.get_rng_state()) Safetensors.Write(RngPath, new Dictionary<string, Tensor> { ["cpu"] = rng });
        Checkpoint.Save(path, _model, config, s); // written last: its step says the other two are complete
        _lastGoodCheckpointStep = s;
    }

    int TryResume()
    {
        var path = _options.CheckpointPath;
        if (!_options.Resume || path is null || !File.Exists(path) || !File.Exists(OptimizerPath)) return 0;
        var info = Checkpoint.Load(path, _model);
        using (var stream = File.OpenRead(OptimizerPath))
        using (var reader = new BinaryReader(stream))
            _optimizer.load_state_dict(reader);
        if (File.Exists(RngPath))
        {
            var (tensors, _) = Safetensors.Read(RngPath);
            random.set_rng_state(tensors["cpu"]);
            foreach (var t in tensors.Values) t.Dispose();
        }
        _lastGoodCheckpointStep = info.Step;
        return (int)info.Step;
    }
}
