// Tensors a careless caller hands the library: a product whose shapes or dtypes do not fit (which TorchSharp's native
// matmul answers by aborting the process), codes and token ids outside their range (libtorch's bare "index out of range
// in self", or LFQ quietly decoding another code), an empty batch (a NaN loss), a NaN batch (an EMA codebook poisoned for
// good). Each is an exception naming what was wrong, or a skip with a warning that leaves the model as it was.
using Kit.Core;
using Kit.Language;
using Kit.Quantizers;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class BadTensorInputTests
{
    [Fact]
    public void CheckedMatmulRefusesWhatMatmulWouldAbortOnNamingBothOperands()
    {
        var shape = Assert.Throws<ArgumentException>(() => ones(2, 3).MatmulChecked(ones(4, 5)));
        Assert.Contains("[2, 3]", shape.Message);
        Assert.Contains("[4, 5]", shape.Message);
        Assert.Contains("last dimension of the first (3)", shape.Message);
        var dtype = Assert.Throws<ArgumentException>(() => ones(2, 3, dtype: float64).MatmulChecked(ones(3, 5)));
        Assert.Contains("Float64", dtype.Message);
        Assert.Contains("dtypes differ", dtype.Message);
        Assert.Contains("do not broadcast", Assert.Throws<ArgumentException>(() => ones(2, 4, 3).MatmulChecked(ones(3, 3, 5))).Message);
        Assert.Contains("at least one dimension", Assert.Throws<ArgumentException>(() => ones(3).MatmulChecked(tensor(2f))).Message);
    }

    [Fact]
    public void CheckedMatmulGivesMatmulsProductsWhereTheyAreDefined()
    {
        manual_seed(3);
        // Every shape rule of matmul: vector·vector, matrix·vector, vector·matrix, batched with broadcasting both ways.
        var pairs = new (long[] A, long[] B)[]
        {
            (new long[] { 4 }, new long[] { 4 }), (new long[] { 3, 4 }, new long[] { 4 }), (new long[] { 4 }, new long[] { 4, 2 }),
            (new long[] { 5, 3, 4 }, new long[] { 4, 2 }), (new long[] { 1, 3, 4 }, new long[] { 6, 4, 2 }), (new long[] { 2, 1, 3, 4 }, new long[] { 5, 4, 2 }),
        };
        foreach (var (a, b) in pairs)
        {
            var x = randn(a);
            var y = randn(b);
            Assert.True(x.MatmulChecked(y).equal(x.matmul(y)).all().item<bool>());
        }
        // The hand-worked case: [[1, 2], [3, 4]] · [5, 6] = [17, 39].
        Assert.Equal(new[] { 17f, 39f }, tensor(new float[] { 1, 2, 3, 4 }, new long[] { 2, 2 }).MatmulChecked(tensor(new float[] { 5, 6 })).data<float>().ToArray());
    }

    [Fact]
    public void TheLibraryCallsMatmulOnlyThroughTheCheckedProduct()
    {
        var src = Path.Combine(Kit.Core.KitPaths.RepositoryRoot!, "src", "Kit");
        var raw = Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && Path.GetFileName(f) != "CheckedMatmul.cs")
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => x.line.Contains(".matmul(", StringComparison.Ordinal) && !x.line.TrimStart().StartsWith("//", StringComparison.Ordinal))
            .Select(x => $"{Path.GetFileName(x.f)}:{x.i + 1}").ToList();
        Assert.Empty(raw);
    }

    [Fact]
    public void Float64FeaturesGivenToAVectorQuantizerAreAnExceptionNotAnAbort()
    {
        var vq = new VectorQuantizer(4, 8);
        var e = Assert.Throws<ArgumentException>(() => vq.forward(randn(2, 4, 3, 3, dtype: float64)));
        Assert.Contains("dtypes differ", e.Message);
    }

    [Fact]
    public void CodesOutsideTheCodebookAreRefusedNamingTheRange()
    {
        var lfq = new LookupFreeQuantizer(4);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => lfq.Lookup(tensor(new long[] { 3, 99 }, new long[] { 1, 1, 2 })));
        Assert.Contains("99", e.Message);
        Assert.Contains("expected 0 … 15", e.Message);
        Assert.Contains("expected 0 … 7", Assert.Throws<ArgumentOutOfRangeException>(() => new VectorQuantizer(4, 8).Lookup(tensor(new long[] { 8 }, new long[] { 1, 1, 1 }))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new VectorQuantizer(4, 8).Lookup(tensor(new long[] { -1 }, new long[] { 1, 1, 1 })));
        // In range, LFQ decodes the code's own bits: code 6 = 0b0110 → [−1, +1, +1, −1] (LSB first).
        Assert.Equal(new[] { -1f, 1f, 1f, -1f }, lfq.Lookup(tensor(new long[] { 6 }, new long[] { 1, 1, 1 })).reshape(-1).data<float>().ToArray());
    }

    [Fact]
    public void AnEmptyBatchIsAnErrorNotANaNLoss()
    {
        var e = Assert.Throws<ArgumentException>(() => new VectorQuantizer(4, 8).forward(zeros(0, 4, 2, 2)));
        Assert.Contains("empty batch", e.Message);
        Assert.Throws<ArgumentException>(() => new LookupFreeQuantizer(4).forward(zeros(0, 5, 4)));
    }

    [Fact]
    public void ANonFiniteBatchNeverReachesTheEmaCodebook()
    {
        manual_seed(4);
        var vq = new VectorQuantizer(4, 8, kmeansInit: true, deadCodeThreshold: 1.0);
        vq.train();
        vq.forward(randn(2, 4, 3, 3)); // initialised by k-means, one EMA update
        var codes = vq.Codebook.Codes().clone();
        var state = vq.Codebook.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var poisoned = randn(2, 4, 3, 3);
        poisoned[0, 1, 2, 2] = tensor(float.NaN);
        vq.forward(poisoned);
        Assert.Equal(1, vq.SkippedBatches);
        Assert.True(vq.Codebook.Codes().equal(codes).all().item<bool>());
        foreach (var (name, value) in vq.Codebook.state_dict()) Assert.True(value.equal(state[name]).all().item<bool>(), name);
        vq.forward(randn(2, 4, 3, 3)); // a finite batch updates it again
        Assert.False(vq.Codebook.Codes().equal(codes).all().item<bool>());
        Assert.True(vq.Codebook.Codes().isfinite().all().item<bool>());
    }

    [Fact]
    public void TokenIdsOutsideTheVocabularyAreRefusedNamingTheRange()
    {
        var gpt = new Gpt(new GptConfig(VocabSize: 10, ContextLength: 8, Layers: 1, Heads: 2, Dim: 8));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => gpt.forward(tensor(new long[] { 1, 2, 10 }, new long[] { 1, 3 })));
        Assert.Contains("expected 0 … 9", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => gpt.forward(tensor(new long[] { -1 }, new long[] { 1, 1 })));
        Assert.Equal(new long[] { 1, 3, 10 }, gpt.forward(tensor(new long[] { 0, 5, 9 }, new long[] { 1, 3 })).shape);
    }
}
