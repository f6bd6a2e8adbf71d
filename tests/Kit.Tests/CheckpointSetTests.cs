// A training checkpoint is several files (the model, each optimiser's state, the generator's state). A kill between two
// of their writes, or a part copied from another step, must never resume a run from parts of different steps; and the
// artifact cache must neither crash on a damaged file nor lose a trained model to a cache folder that cannot take it.
using Kit.Core;
using Kit.Training;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class CheckpointSetTests : TempDirectoryTest
{
    static StepResult RegressionStep(TinyModel model, int step) => model.RegressionStep(step, seed: 7);

    static TrainerOptions Options(int steps, string path, int every) =>
        new(steps, LearningRate: 0.05, WarmupSteps: 3, LogEvery: 1, CheckpointEvery: every, CheckpointPath: path, ShowProgress: false);

    TinyModel Fresh()
    {
        manual_seed(5);
        return new TinyModel(6);
    }

    [Fact]
    public void AKillBetweenTheWritesOfACheckpointResumesTheLastCompleteSet()
    {
        var straight = Fresh();
        var full = new Trainer(straight, Options(30, Path.Combine(Dir, "straight.safetensors"), every: 0)).Run(s => RegressionStep(straight, s)).Losses;

        var path = Path.Combine(Dir, "run.safetensors");
        var first = Fresh();
        Assert.Throws<OperationCanceledException>(() => new Trainer(first, Options(30, path, every: 10))
            .Run(s => s == 11 ? throw new OperationCanceledException("killed") : RegressionStep(first, s)));
        var stepTen = Directory.GetFiles(Dir, "run.safetensors*").ToDictionary(f => f, File.ReadAllBytes); // the complete set of step 10
        var second = Fresh();
        Assert.Throws<OperationCanceledException>(() => new Trainer(second, Options(30, path, every: 10))
            .Run(s => s == 21 ? throw new OperationCanceledException("killed") : RegressionStep(second, s)));
        Assert.True(File.Exists(path + ".step-20.rng.safetensors"));
        Assert.False(File.Exists(path + ".step-10.rng.safetensors")); // a complete set replaces the one before
        // What a kill during step 20's writes leaves: step 20's parts written, its model file not, so step 10's model file
        // and parts still in place.
        foreach (var (file, bytes) in stepTen) File.WriteAllBytes(file, bytes);
        Assert.True(File.Exists(path + ".step-20.optimizer"));
        var resumed = Fresh();
        var log = new Trainer(resumed, Options(30, path, every: 10)).Run(s => RegressionStep(resumed, s));
        Assert.Equal(11, log.Rows[0].Step);
        Assert.Equal(full.Skip(10), log.Losses); // the same numbers as the run that was never interrupted
    }

    [Fact]
    public void APartFromAnotherStepIsRefusedNamingIt()
    {
        var path = Path.Combine(Dir, "run.safetensors");
        var model = Fresh();
        Assert.Throws<OperationCanceledException>(() => new Trainer(model, Options(30, path, every: 10))
            .Run(s => s == 21 ? throw new OperationCanceledException("killed") : RegressionStep(model, s)));
        // The optimiser state of step 20 replaced by another's (a copy from another run, a hand edit).
        var other = Fresh();
        var otherPath = Path.Combine(Dir, "other.safetensors");
        Assert.Throws<OperationCanceledException>(() => new Trainer(other, Options(30, otherPath, every: 10))
            .Run(s => s == 11 ? throw new OperationCanceledException("killed") : RegressionStep(other, s)));
        File.Copy(otherPath + ".step-10.optimizer", path + ".step-20.optimizer", overwrite: true);
        var resumed = Fresh();
        var e = Assert.Throws<InvalidOperationException>(() => new Trainer(resumed, Options(30, path, every: 10)).Run(s => RegressionStep(resumed, s)));
        Assert.Contains("not a consistent set", e.Message);
        Assert.Contains("step-20.optimizer", e.Message);
        File.Delete(path + ".step-20.rng.safetensors");
        var missing = Assert.Throws<InvalidOperationException>(() => new Trainer(resumed, Options(30, path, every: 10)).Run(s => RegressionStep(resumed, s)));
        Assert.Contains("rng.safetensors is missing", missing.Message);
    }

    [Fact]
    public void ACheckpointThatCannotBeWrittenDoesNotEndTheRun()
    {
        var straight = Fresh();
        var full = new Trainer(straight, Options(20, Path.Combine(Dir, "straight.safetensors"), every: 0)).Run(s => RegressionStep(straight, s)).Losses;
        var path = Path.Combine(Dir, "blocked.safetensors");
        Directory.CreateDirectory(path); // a folder where the model file should go: every checkpoint write fails
        var model = Fresh();
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        TrainingLog log;
        try { log = new Trainer(model, Options(20, path, every: 5)).Run(s => RegressionStep(model, s)); }
        finally { Console.SetError(previous); }
        Assert.Equal(full, log.Losses); // trained to the end, with the numbers of a run without checkpoints
        Assert.Contains("the checkpoint of step 5 could not be written", error.ToString());
    }

    [Fact]
    public void ACheckpointWithoutItsPartsListIsRefused()
    {
        var path = Path.Combine(Dir, "old.safetensors");
        var model = Fresh();
        Checkpoint.Save(path, model, step: 4); // a model file alone, as an earlier kit wrote it beside unnamed parts
        var e = Assert.Throws<InvalidOperationException>(() => new Trainer(model, Options(10, path, every: 5)).Run(s => RegressionStep(model, s)));
        Assert.Contains("names no optimiser or generator parts", e.Message);
    }
}

public sealed class ArtifactCacheSafetyTests : TempDirectoryTest
{
    sealed class Cache : IDisposable
    {
        readonly string? _before = Environment.GetEnvironmentVariable("KIT_CACHE");
        public Cache(string folder) => Environment.SetEnvironmentVariable("KIT_CACHE", folder);
        public void Dispose() => Environment.SetEnvironmentVariable("KIT_CACHE", _before);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [\"one\"], \"data_offsets\": [0, 4]}}")]
    [InlineData("{\"__metadata__\": {\"kit.step\": 3}}")]
    public void AMalformedHeaderIsAnErrorNamingTheFile(string header)
    {
        var path = Path.Combine(Dir, "bad.safetensors");
        var json = System.Text.Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, BitConverter.GetBytes((ulong)json.Length).Concat(json).Concat(new byte[4]).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.ReadHeader(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void AMalformedCachedArtifactIsTrainedAnewWithANoteNamingTheFile()
    {
        using var cache = new Cache(Dir);
        var key = new TinyConfig(3, "damaged", 0.1);
        var path = ArtifactCache.PathFor("tiny", key, 1);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var json = System.Text.Encoding.UTF8.GetBytes("null");
        File.WriteAllBytes(path, BitConverter.GetBytes((ulong)json.Length).Concat(json).ToArray());
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try
        {
            int trained = 0;
            var (_, loaded) = ArtifactCache.GetOrTrain("tiny", key, 1, () => new TinyModel(3), m => trained++);
            Assert.False(loaded);
            Assert.Equal(1, trained);
        }
        finally { Console.SetError(previous); }
        Assert.Contains(path, error.ToString());
        Assert.Contains("training it anew", error.ToString());
        Checkpoint.ReadInfo(path); // replaced by a good file
    }

    [Fact]
    public void ACacheThatIsAFileIsRefusedBeforeTrainingNamingKitCache()
    {
        var file = Path.Combine(Dir, "cache-file");
        File.WriteAllText(file, "x");
        using var cache = new Cache(file);
        bool trained = false;
        var e = Assert.Throws<ArgumentException>(() => ArtifactCache.GetOrTrain("tiny", new TinyConfig(3, "file", 0.1), 1, () => new TinyModel(3), m => trained = true));
        Assert.Contains("KIT_CACHE", e.Message);
        Assert.False(trained, "training started before the cache was found unusable");
    }

    [Fact]
    public void ATrainedModelWhoseFileCannotBeWrittenIsKeptElsewhereAndNamed()
    {
        using var cache = new Cache(Dir);
        var key = new TinyConfig(3, "unwritable", 0.2);
        var path = ArtifactCache.PathFor("tiny", key, 1);
        Directory.CreateDirectory(path); // a folder where the file should go: the write fails after training
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        TinyModel model;
        try
        {
            (model, _) = ArtifactCache.GetOrTrain("tiny", key, 1, () => new TinyModel(3), m => { using (no_grad()) m.state_dict()["counts"].fill_(7); });
        }
        finally { Console.SetError(previous); }
        Assert.Equal(7, model.state_dict()["counts"][0].item<long>()); // the trained model is returned, not thrown away
        var fallback = Path.Combine(Path.GetTempPath(), "kit-unsaved-artifacts", Path.GetFileName(path));
        Assert.Contains(fallback, error.ToString());
        Assert.Contains("KIT_CACHE", error.ToString());
        var reloaded = new TinyModel(3);
        Checkpoint.Load(fallback, reloaded);
        Assert.Equal(7, reloaded.state_dict()["counts"][0].item<long>());
        File.Delete(fallback);
    }
}
