// Checkpoints: the safetensors bytes are checked against the format's rules by an independent parser
// written here, and an interrupted write must leave the previous checkpoint intact.
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Kit.Core;
using Kit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed record TinyConfig(int Width, string Name, double Rate);

public sealed class TinyModel : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> fc1, fc2;
    readonly Tensor counts; // a buffer, like EMA statistics: saved, not trained

    public TinyModel(int width) : base(nameof(TinyModel))
    {
        fc1 = nn.Linear(3, width);
        fc2 = nn.Linear(width, 2);
        counts = zeros(width, dtype: int64);
        register_buffer("counts", counts);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => fc2.forward(fc1.forward(x).relu());

    /// <summary>One training step of a small regression (y = half the sum of x, twice) on a batch drawn from (<paramref name="seed"/>, step).</summary>
    public StepResult RegressionStep(int step, long seed = 99)
    {
        var rng = KitRandom.For(seed, step);
        var x = tensor(Enumerable.Range(0, 24).Select(_ => (float)rng.Normal()).ToArray(), new long[] { 8, 3 });
        var y = x.sum(1, keepdim: true).expand(8, 2) * 0.5;
        return new StepResult(nn.functional.mse_loss(forward(x), y));
    }
}

public sealed class CheckpointTests : TempDirectoryTest
{
    [Fact]
    public void SaveThenLoadRestoresIdenticalTensorsConfigAndStep()
    {
        manual_seed(1);
        var source = new TinyModel(4);
        using (no_grad()) source.state_dict()["counts"].copy_(tensor(new long[] { 3, 1, 4, 1 }));
        var path = Path.Combine(Dir, "model.safetensors");
        Checkpoint.Save(path, source, new TinyConfig(4, "tiny", 0.5), step: 1234);

        manual_seed(2);
        var target = new TinyModel(4);
        Assert.False(source.state_dict()["fc1.weight"].eq(target.state_dict()["fc1.weight"]).all().item<bool>());
        var info = Checkpoint.Load(path, target);
        foreach (var (name, t) in source.state_dict())
            Assert.True(t.eq(target.state_dict()[name]).all().item<bool>(), $"{name} differs after loading");
        Assert.Equal(1234, info.Step);
        Assert.Equal(new TinyConfig(4, "tiny", 0.5), info.Config<TinyConfig>());
        Assert.Equal(typeof(TinyConfig).FullName, info.ConfigType);
    }

    [Fact]
    public void FileFollowsTheSafetensorsFormat()
    {
        manual_seed(3);
        var model = new TinyModel(5);
        var path = Path.Combine(Dir, "format.safetensors");
        Checkpoint.Save(path, model, step: 7);
        var bytes = File.ReadAllBytes(path);

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.True(8 + (long)n <= bytes.Length);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n));
        var sizes = new Dictionary<string, int> { ["F32"] = 4, ["I64"] = 8 };
        var spans = new List<(long Begin, long End)>();
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") { Assert.Equal("7", entry.Value.GetProperty("kit.step").GetString()); continue; }
            var dtype = entry.Value.GetProperty("dtype").GetString()!;
            var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal(shape.Aggregate(1L, (a, b) => a * b) * sizes[dtype], offsets[1] - offsets[0]);
            Assert.Equal(model.state_dict()[entry.Name].shape, shape);
            spans.Add((offsets[0], offsets[1]));
        }
        Assert.Equal(new[] { "counts", "fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight" },
            header.RootElement.EnumerateObject().Select(e => e.Name).Where(x => x != "__metadata__").Order());
        // Tensor data is contiguous, non-overlapping and fills the rest of the file exactly.
        spans.Sort();
        Assert.Equal(0, spans[0].Begin);
        for (int i = 1; i < spans.Count; i++) Assert.Equal(spans[i - 1].End, spans[i].Begin);
        Assert.Equal(bytes.Length - 8 - (long)n, spans[^1].End);
        // fc2.bias decoded by hand as little-endian float32 equals the module's values.
        var bias = header.RootElement.GetProperty("fc2.bias").GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
        var decoded = Enumerable.Range(0, 2).Select(i => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(8 + (long)n + bias[0] + 4 * i)))).ToArray();
        Assert.Equal(model.state_dict()["fc2.bias"].data<float>().ToArray(), decoded);
    }

    sealed class FailingStream : Stream
    {
        readonly Stream _inner; long _left;
        public FailingStream(Stream inner, long failAfter) { _inner = inner; _left = failAfter; }
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.Length > _left) { _inner.Write(buffer[..(int)_left]); throw new IOException("disk full (simulated)"); }
            _left -= buffer.Length;
            _inner.Write(buffer);
        }
        public override void Flush() => _inner.Flush();
        public override bool CanRead => false; public override bool CanSeek => false; public override bool CanWrite => true;
        public override long Length => _inner.Length; public override long Position { get => _inner.Position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public void AnInterruptedWriteLeavesThePreviousFile()
    {
        var path = Path.Combine(Dir, "keep.safetensors");
        Checkpoint.Save(path, new TinyModel(3), step: 1);
        var before = File.ReadAllBytes(path);

        var bigger = new TinyModel(64).state_dict();
        Assert.Throws<IOException>(() => Safetensors.Write(path, bigger, null, s => new FailingStream(s, 200)));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(Dir)); // no temp file left behind
        Assert.Equal(1, Checkpoint.ReadInfo(path).Step);
    }

    [Fact]
    public void LoadingIntoAnotherShapeNamesTheTensor()
    {
        var path = Path.Combine(Dir, "shape.safetensors");
        Checkpoint.Save(path, new TinyModel(3));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, new TinyModel(4)));
        Assert.Matches("'(fc1.weight|fc1.bias|fc2.weight|counts)' has shape \\[3(, 3)?\\], the module expects \\[4", e.Message);
    }

    [Fact]
    public void ACheckpointThatDoesNotFitLeavesTheModuleAsItWas()
    {
        // A head of another width: fc2 misfits, fc1 (before it in the state) fits. Nothing may be copied.
        var path = Path.Combine(Dir, "head.safetensors");
        manual_seed(1);
        var source = nn.Sequential(("fc1", nn.Linear(3, 8)), ("fc2", nn.Linear(8, 2)));
        Checkpoint.Save(path, source);
        manual_seed(2);
        var target = nn.Sequential(("fc1", nn.Linear(3, 8)), ("fc2", nn.Linear(8, 3)));
        var before = target.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target));
        Assert.Contains("'fc2.weight' has shape [2, 8], the module expects [3, 8]", e.Message);
        Assert.Contains("'fc2.bias'", e.Message);
        foreach (var (name, value) in target.state_dict()) Assert.True(value.equal(before[name]).all().item<bool>(), $"{name} was written");
    }

    [Fact]
    public void ATruncatedFileIsAClearError()
    {
        var path = Path.Combine(Dir, "cut.safetensors");
        Checkpoint.Save(path, new TinyModel(8));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 16)]);
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("data_offsets", e.Message);
    }
}
