// Device choice, seeding, scales and the dispose-scope helpers.
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public class CoreTests
{
    [Fact]
    public void DeviceNamesAreParsedOrRejectedClearly()
    {
        Assert.Equal(DeviceType.CPU, Devices.Choose("cpu").type);
        Assert.Equal(DeviceType.CPU, Devices.Choose(" CPU ").type);
        var e = Assert.Throws<ArgumentException>(() => Devices.Choose("tpu"));
        Assert.Contains("KIT_DEVICE='tpu'", e.Message);
        Assert.Contains("expected 'cpu', 'cuda'", e.Message);
        if (!cuda.is_available()) Assert.Throws<ArgumentException>(() => Devices.Choose("cuda"));
    }

    [Fact]
    public void SameSeedSameNumbers()
    {
        Seeding.SeedEverything(42);
        using var a = randn(5);
        var k1 = Seeding.Random.NextUInt64();
        Seeding.SeedEverything(42);
        using var b = randn(5);
        var k2 = Seeding.Random.NextUInt64();
        Assert.True(a.eq(b).all().item<bool>());
        Assert.Equal(k1, k2);
        Seeding.SeedEverything(43);
        using var c = randn(5);
        Assert.False(a.eq(c).all().item<bool>());
    }

    [Fact]
    public void KitRandomIsPortableSplitMix64()
    {
        // Reference values of SplitMix64 from seed 0 (as in the published reference implementation).
        var rng = new KitRandom(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.NextUInt64());
        var p = new KitRandom(5).Permutation(10);
        Assert.Equal(Enumerable.Range(0, 10), p.Order());
    }

    [Fact]
    public void ScalesParseAndPick()
    {
        Assert.Equal(RunScale.Quick, RunScales.Parse("QUICK"));
        Assert.Equal(500, RunScales.Parse("default").Pick(50, 500, 5000));
        var e = Assert.Throws<ArgumentException>(() => RunScales.Parse("huge"));
        Assert.Contains("'huge'", e.Message);
    }

    [Fact]
    public void StepScopesFreeEveryTensorTheyCreate()
    {
        Tensor? inner = null;
        float value = Scopes.Step(() =>
        {
            inner = ones(3).mul(2);
            return inner.sum().item<float>();
        });
        Assert.Equal(6f, value);
        Assert.True(inner!.IsInvalid);

        Tensor? temp = null;
        using var kept = Scopes.Keep(() => { temp = ones(2); return temp.add(1); });
        Assert.True(temp!.IsInvalid);
        Assert.False(kept.IsInvalid);
        Assert.Equal(new float[] { 2, 2 }, kept.data<float>().ToArray());
        Assert.Throws<ArgumentException>(() => Scopes.Step(() => ones(1)));
    }
}

public class LayerTests
{
    [Fact]
    public void GroupNormStartsAsTheIdentityAffine()
    {
        var norm = Kit.Core.Layers.GroupNorm(4, 8);
        var p = norm.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        Assert.True(p["weight"].eq(1).all().item<bool>());
        Assert.True(p["bias"].eq(0).all().item<bool>());
        // normalised per group: each group of 2 channels × 9 pixels has mean 0 and variance 1
        using var x = TorchSharp.torch.randn(3, 8, 3, 3) * 5 + 2;
        using var y = norm.forward(x).reshape(3, 4, -1);
        Assert.True(y.mean(new long[] { 2 }).abs().max().item<float>() < 1e-4);
        Assert.True((y.var(2, unbiased: false) - 1).abs().max().item<float>() < 1e-3);
    }
}
