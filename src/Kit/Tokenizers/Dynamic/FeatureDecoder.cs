// LaVIT's feature decoder: N learned queries, one per backbone patch, cross-attend to the kept codes — packed in their
// kept order (the released code zero-pads them per batch and adds an embedding of their index; the kit adds none, for
// the reason at Decode) — through L blocks, then Linear → Tanh → Linear, giving back all N backbone features. The
// loss is 1 − cos(x̂, x) per patch: LaVIT reconstructs features, not pixels.
using Kit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Kit.Tokenizers.Dynamic;

/// <summary>Kept codes (any number per image) → all N patch features.</summary>
public sealed class FeatureDecoder : nn.Module
{
    readonly Parameter queries;
    readonly Linear embed;
    readonly ModuleList<CrossAttentionBlock> blocks;
    readonly LayerNorm norm;
    readonly Sequential head;

    /// <param name="patches">N, the backbone's patches per image.</param>
    /// <param name="dim">Width C of the backbone features it reconstructs.</param>
    /// <param name="codeDim">Width of the codes it reads.</param>
    /// <param name="layers">Decoder blocks.</param>
    /// <param name="heads">Attention heads.</param>
    /// <param name="width">Width of the queries and blocks (default: dim); the head maps it to dim.</param>
    public FeatureDecoder(int patches, int dim, int codeDim, int layers, int heads, int? width = null) : base(nameof(FeatureDecoder))
    {
        Patches = patches; Dim = dim;
        int w = width ?? dim;
        queries = nn.Parameter(randn(1, patches, w) * 0.02);
        embed = nn.Linear(codeDim, w);
        blocks = nn.ModuleList(Enumerable.Range(0, layers).Select(_ => new CrossAttentionBlock(w, heads)).ToArray());
        norm = nn.LayerNorm(w);
        head = nn.Sequential(nn.Linear(w, w), nn.Tanh(), nn.Linear(w, dim));
        RegisterComponents();
    }

    public int Patches { get; }
    public int Dim { get; }

    /// <summary>
    /// The kept positions of each row of <paramref name="keep"/> [B, N] in patch order, and which of the N slots hold one:
    /// order [B, N] (the kept positions first, then the dropped), valid [B, N].
    /// </summary>
    public static (Tensor Order, Tensor Valid) KeptOrder(Tensor keep)
    {
        long n = keep.shape[1];
        var position = arange(n, device: keep.device).unsqueeze(0).expand_as(keep);
        var order = where(keep.to(@bool), position, position + n).argsort(1);
        var valid = arange(n, device: keep.device).unsqueeze(0).lt(keep.to(@bool).sum(1, keepdim: true));
        return (order, valid);
    }

    /// <summary>
    /// Features [B, N, C] from codes [B, N, codeDim] that mean something at the kept positions of <paramref name="keep"/> [B, N]
    /// (float 0/1 with straight-through gradients while training). The kept codes come first, in patch order, each with
    /// its M as its key weight; the dropped ones follow with weight 0 — they change nothing, bit for bit (the same output
    /// as decoding the kept codes alone), but their weight still gets a gradient: what keeping that patch would have done
    /// for the reconstruction, the signal that teaches the selector which patches matter (DynamicViT's attention masking).
    /// </summary>
    public Tensor Forward(Tensor codes, Tensor keep)
    {
        var (order, _) = KeptOrder(keep);
        var packed = codes.gather(1, order.unsqueeze(-1).expand_as(codes));
        return Decode(packed, keep.to(codes.dtype).gather(1, order));
    }

    /// <summary>
    /// Features [B, N, C] from packed codes [B, L, codeDim] (L ≤ N, each image's codes first, in their order), each
    /// weighed as a key by <paramref name="weights"/> [B, L]: 1 for a real code, 0 for padding (or a dropped patch).
    /// </summary>
    public Tensor Decode(Tensor packed, Tensor weights)
    {
        long b = packed.shape[0], l = packed.shape[1];
        if (l > Patches) throw new ArgumentException($"{l} codes per image: this decoder places at most {Patches}.", nameof(packed));
        // The codes reach the queries as they are: not scaled by M (a code scaled by a weight that also weighs its key
        // would have a zero gradient at M = 0, w·(w·v)) and with no embedding of their slot in the kept order (a dropped
        // code sits past the kept ones, in a slot a kept code would not have had, so its gradient would answer the
        // wrong question). The backbone's features carry their position, so a code says where it came from.
        var context = embed.call(packed);
        var mask = new AttentionMask(KeyWeights: weights);   // weight 0: no contribution, but a gradient
        var x = queries.expand(b, Patches, queries.shape[2]);
        foreach (var block in blocks) x = block.Forward(x, context, crossMask: mask);
        return head.call(norm.call(x));
    }

    /// <summary>Mean over patches of 1 − cos(x̂, x): 0 when every reconstructed feature points where the backbone's does.</summary>
    public static Tensor Loss(Tensor reconstructed, Tensor target) => (1 - F.cosine_similarity(reconstructed, target, dim: -1)).mean();
}
