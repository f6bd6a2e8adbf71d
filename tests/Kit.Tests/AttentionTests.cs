// The kit's one attention module against attention written out by hand, its masks, and the Gumbel-softmax.
using Kit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Kit.Tests;

public sealed class AttentionTests
{
    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static Tensor Param(nn.Module m, string name) => m.named_parameters().Single(p => p.name == name).parameter.detach();

    // softmax(QKᵀ/√d)V per head, written out with explicit loops over heads, then the output projection.
    static Tensor ByHand(MultiHeadAttention attention, Tensor x, Tensor? context, Tensor allowed)
    {
        long b = x.shape[0], t = x.shape[1];
        int heads = attention.Heads, hd = attention.Dim / heads;
        Tensor q, k, v;
        if (context is null)
        {
            var all = x.matmul(Param(attention, "qkv.weight").t());
            (q, k, v) = (all.narrow(2, 0, attention.Dim), all.narrow(2, attention.Dim, attention.Dim), all.narrow(2, 2 * attention.Dim, attention.Dim));
        }
        else
        {
            q = x.matmul(Param(attention, "q.weight").t());
            var kv = context.matmul(Param(attention, "kv.weight").t());
            (k, v) = (kv.narrow(2, 0, attention.Dim), kv.narrow(2, attention.Dim, attention.Dim));
        }
        var outputs = new List<Tensor>();
        for (int h = 0; h < heads; h++)
        {
            var (qh, kh, vh) = (q.narrow(2, h * hd, hd), k.narrow(2, h * hd, hd), v.narrow(2, h * hd, hd));
            var scores = qh.matmul(kh.transpose(1, 2)) / Math.Sqrt(hd);
            var weights = scores.masked_fill(allowed.logical_not(), double.NegativeInfinity).softmax(-1).nan_to_num(0.0);
            outputs.Add(weights.matmul(vh));
        }
        return cat(outputs, 2).matmul(Param(attention, "proj.weight").t());
    }

    [Fact]
    public void SelfAttentionEqualsSoftmaxOfScaledScoresWithMasks()
    {
        manual_seed(1);
        using var attention = new MultiHeadAttention(8, 2);
        var x = randn(2, 5, 8);
        var padding = ones(2, 5, dtype: @bool);
        padding[0, 4] = false; padding[1, 1] = false;
        foreach (var causal in new[] { false, true })
        {
            var allowed = padding.unsqueeze(1).expand(2, 5, 5);
            if (causal) allowed = allowed.logical_and(ones(5, 5, dtype: @bool).tril());
            var expected = ByHand(attention, x, null, allowed);
            var actual = attention.Forward(x, mask: new AttentionMask(Causal: causal, KeyPadding: padding));
            Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-5), $"causal={causal}: max difference {(actual - expected).abs().max().item<float>()}");
        }
    }

    // Training on the CPU computes the scores explicitly; libtorch's fused kernel is an independent implementation of the
    // same function, forward and backward, so the two must agree on the output and on every input's gradient.
    [Fact]
    public void ExplicitScoresMatchTheFusedKernelInValueAndGradient()
    {
        manual_seed(3);
        long b = 2, h = 2, t = 6, s = 6, hd = 4;
        var allowed = rand(b, 1, t, s).gt(0.4).logical_or(eye(t, s, dtype: @bool)); // every row sees at least itself
        foreach (var (causal, mask) in new (bool, Tensor?)[] { (false, null), (true, null), (false, allowed), (true, allowed) })
        {
            var inputs = new[] { randn(b, h, t, hd), randn(b, h, s, hd), randn(b, h, s, hd) };
            var dy = randn(b, h, t, hd);
            var mine = inputs.Select(x => x.clone().requires_grad_()).ToArray();
            var fused = inputs.Select(x => x.clone().requires_grad_()).ToArray();
            var y = MultiHeadAttention.Attend(mine[0], mine[1], mine[2], causal, mask);
            var reference = mask is null ? nn.functional.scaled_dot_product_attention(fused[0], fused[1], fused[2], is_casual: causal)
                : nn.functional.scaled_dot_product_attention(fused[0], fused[1], fused[2], causal ? mask.logical_and(ones(t, s, dtype: @bool).tril()) : mask);
            y.backward(new[] { dy });
            reference.backward(new[] { dy });
            string what = $"causal={causal}, mask={(mask is null ? "none" : "random")}";
            Assert.True(y.allclose(reference, rtol: 1e-4, atol: 1e-5), $"{what}: output differs by {(y - reference).abs().max().item<float>()}");
            for (int i = 0; i < 3; i++)
                Assert.True(mine[i].grad!.allclose(fused[i].grad!, rtol: 1e-4, atol: 1e-5), $"{what}: gradient of input {i} differs by {(mine[i].grad! - fused[i].grad!).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void AMaskedKeyGetsZeroWeightAndChangesNothingItHides()
    {
        manual_seed(2);
        using var attention = new MultiHeadAttention(8, 2, contextDim: 6);
        var x = randn(1, 3, 8);
        var context = randn(1, 4, 6);
        var padding = tensor(new[] { true, true, false, true }).unsqueeze(0);
        var mask = new AttentionMask(KeyPadding: padding);
        var weights = attention.Weights(x, context, mask);
        Assert.Equal(0f, weights.select(3, 2).abs().max().item<float>());
        Assert.True(weights.sum(-1).allclose(ones(1, 2, 3)));
        var before = attention.Forward(x, context, mask);
        var changed = context.clone();
        changed[0, 2] = changed[0, 2] * 100 + 7;
        Assert.True(attention.Forward(x, changed, mask).eq(before).all().item<bool>(), "a masked key must not reach any output");
    }

    [Fact]
    public void ACausalQueryNeverSeesLaterKeys()
    {
        manual_seed(3);
        using var attention = new MultiHeadAttention(8, 2);
        var x = randn(1, 6, 8);
        var before = attention.Forward(x, mask: new AttentionMask(Causal: true));
        var later = x.clone();
        later[0, 4] = later[0, 4] + 10;
        var after = attention.Forward(later, mask: new AttentionMask(Causal: true));
        Assert.True(after.narrow(1, 0, 4).allclose(before.narrow(1, 0, 4), rtol: 0, atol: 1e-6), "queries before position 4 changed");
        Assert.False(after.narrow(1, 4, 1).allclose(before.narrow(1, 4, 1)), "position 4 itself must change");
        var weights = attention.Weights(x, mask: new AttentionMask(Causal: true));
        Assert.Equal(0f, weights.triu(1).abs().max().item<float>());
    }

    [Fact]
    public void AQueryWithNoKeyToSeeGetsZeroNotNaN()
    {
        manual_seed(4);
        using var attention = new MultiHeadAttention(8, 2, contextDim: 8);
        var x = randn(2, 3, 8);
        var context = randn(2, 4, 8);
        var padding = tensor(new[] { false, false, false, false, true, true, false, true }, new long[] { 2, 4 }); // image 0: no key at all
        var y = attention.Forward(x, context, new AttentionMask(KeyPadding: padding));
        Assert.False(y.isnan().any().item<bool>());
        var projBias = zeros(8); // no biases: a query that sees nothing outputs exactly zero
        Assert.True(y[0].eq(projBias.expand(3, 8)).all().item<bool>());
        Assert.True(y[1].abs().sum().item<float>() > 0);
    }

    [Fact]
    public void KeyWeightsScaleEachKeysUnnormalisedAttention()
    {
        manual_seed(6);
        using var attention = new MultiHeadAttention(8, 2, contextDim: 8);
        var x = randn(1, 3, 8);
        var context = randn(1, 4, 8);
        // 0/1 weights are exactly a key padding mask.
        var hard = tensor(new float[] { 1, 0, 1, 1 }).unsqueeze(0);
        var masked = attention.Forward(x, context, new AttentionMask(KeyPadding: hard.gt(0.5)));
        Assert.True(attention.Forward(x, context, new AttentionMask(KeyWeights: hard)).allclose(masked, rtol: 1e-5, atol: 1e-6));
        // Soft weights: a_ij = w_j e^{s_ij} / Σ_k w_k e^{s_ik}, from the plain weights by hand: p_ij w_j / Σ_k p_ik w_k.
        var w = tensor(new float[] { 0.5f, 1, 0.25f, 0 }).unsqueeze(0);
        var plain = attention.Weights(x, context, AttentionMask.None);
        var byHand = plain * w.reshape(1, 1, 1, 4);
        byHand = byHand / byHand.sum(-1, keepdim: true);
        Assert.True(attention.Weights(x, context, new AttentionMask(KeyWeights: w)).allclose(byHand, rtol: 1e-5, atol: 1e-6));
        // A key of weight 0 changes nothing, bit for bit, however large its score; the weights still get a gradient.
        var changed = context.clone();
        changed[0, 3] = changed[0, 3] * 100 + 7;
        Assert.True(Same(attention.Forward(x, changed, new AttentionMask(KeyWeights: w)), attention.Forward(x, context, new AttentionMask(KeyWeights: w))));
        var wg = w.clone().requires_grad_();
        attention.Forward(x, context, new AttentionMask(KeyWeights: wg)).pow(2).sum().backward();
        Assert.True(wg.grad!.abs().sum().item<float>() > 0);
        // All weights 0: the query sees nothing, output 0.
        var none = attention.Forward(x, context, new AttentionMask(KeyWeights: zeros(1, 4)));
        Assert.True(none.isfinite().all().item<bool>());
    }

    [Fact]
    public void HardGumbelIsOneHotAndPassesGradients()
    {
        manual_seed(5);
        var logits = randn(200, 4).requires_grad_();
        var y = Gumbel.Softmax(logits, temperature: 1.0, hard: true);
        Assert.True(y.sum(1).allclose(ones(200)));
        Assert.True(y.eq(0).logical_or(y.eq(1)).all().item<bool>(), "hard samples are exactly 0 or 1");
        var weight = arange(4, dtype: float32);
        (y * weight).sum().backward();
        var grad = logits.grad!;
        Assert.False(grad.isnan().any().item<bool>());
        Assert.True(grad.abs().sum().item<float>() > 0, "gradients reach the logits through the hard sample");
    }

    [Fact]
    public void GumbelSamplesFollowTheSoftmax()
    {
        var generator = new Generator(7);
        var logits = tensor(new[] { 1.0f, 0.0f, -1.0f }).unsqueeze(0).expand(20_000, 3);
        var picks = Gumbel.Softmax(logits, hard: true, generator: generator).sum(new long[] { 0 }) / 20_000;
        var expected = tensor(new[] { 1.0f, 0.0f, -1.0f }).softmax(0);
        Assert.True(picks.allclose(expected, rtol: 0, atol: 0.015), $"{string.Join(", ", picks.data<float>().ToArray())} vs {string.Join(", ", expected.data<float>().ToArray())}");
    }
}
